"""Consent-notice routes: thin handlers that parse, then call one service function."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from anxin_consent.notices import service
from anxin_consent.notices.schemas import ConsentNoticePage
from anxin_shared.deps import PrincipalDep, RuntimeDep, SessionDep

router = APIRouter(prefix="/api/v1/consent/notices", tags=["consent"])


@router.get("", response_model=ConsentNoticePage)
def list_notices(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ConsentNoticePage:
    """Published consent notices, for anyone the policy lets read them."""
    return service.list_published(session, runtime.policy, principal, limit, offset)
