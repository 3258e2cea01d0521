"""Consent-notice routes: thin handlers that parse, then call one service function."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from anxin_consent.notices import service
from anxin_consent.notices.schemas import (
    ConsentNoticeChange,
    ConsentNoticeCreate,
    ConsentNoticePage,
)
from anxin_shared.deps import PrincipalDep, RuntimeDep, SessionDep

router = APIRouter(prefix="/api/v1/consent/notices", tags=["consent"])
NoticeKeyPath = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{1,63}$")]
VersionPath = Annotated[int, Path(ge=1, le=1_000_000)]


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


@router.post("", response_model=ConsentNoticeChange, status_code=201)
def create_notice(
    body: ConsentNoticeCreate, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> ConsentNoticeChange:
    """Draft a new notice version (its content is fixed from now on)."""
    return service.create_draft(session, runtime.policy, principal, body)


@router.get("/{notice_key}/versions/{version}", response_model=ConsentNoticeChange)
def read_notice(
    notice_key: NoticeKeyPath,
    version: VersionPath,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> ConsentNoticeChange:
    """One notice version in any status."""
    return service.read_version(session, runtime.policy, principal, notice_key, version)


@router.post("/{notice_key}/versions/{version}/publish", response_model=ConsentNoticeChange)
def publish_notice(
    notice_key: NoticeKeyPath,
    version: VersionPath,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> ConsentNoticeChange:
    """Publish a draft: customers may now agree to exactly this text."""
    return service.publish(session, runtime.policy, principal, notice_key, version)


@router.post("/{notice_key}/versions/{version}/retire", response_model=ConsentNoticeChange)
def retire_notice(
    notice_key: NoticeKeyPath,
    version: VersionPath,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> ConsentNoticeChange:
    """Retire a published version: no new consents on it."""
    return service.retire(session, runtime.policy, principal, notice_key, version)
