"""Call-session routes: thin handlers that parse, then call one service function."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Depends, Path

from anxin_identity.calls import service
from anxin_identity.calls.schemas import CallSessionCreate, CallSessionPublic
from anxin_identity.settings import IdentitySettings
from anxin_shared.deps import PrincipalDep, RuntimeDep, SessionDep

router = APIRouter(prefix="/api/v1/calls", tags=["calls"])
SessionId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


def identity_settings(runtime: RuntimeDep) -> IdentitySettings:
    """The settings this identity app was built with."""
    return cast(IdentitySettings, runtime.settings)


IdentitySettingsDep = Annotated[IdentitySettings, Depends(identity_settings)]


@router.post("", response_model=CallSessionPublic, status_code=201)
def open_call_session(
    body: CallSessionCreate,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    settings: IdentitySettingsDep,
) -> CallSessionPublic:
    """Open a call session bound to the calling agent (assurance L0 for now)."""
    return service.open_call_session(
        session, runtime.policy, principal, body, settings.session_ttl_seconds
    )


@router.get("/{session_id}", response_model=CallSessionPublic)
def read_call_session(
    session_id: SessionId, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> CallSessionPublic:
    """One of the caller's own call sessions."""
    return service.read_call_session(session, runtime.policy, principal, session_id)
