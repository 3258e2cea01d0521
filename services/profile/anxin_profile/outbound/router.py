"""Outbound routes: call lists for agents, dial resolution for the telephony platform."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from anxin_profile.deps import ClockDep, SettingsDep
from anxin_profile.outbound import service
from anxin_profile.outbound.schemas import CallListCreate, CallListPublic, DialResolution
from anxin_shared.deps import PrincipalDep, RuntimeDep, SessionDep

router = APIRouter(prefix="/api/v1", tags=["outbound"])
DialRef = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{16,64}$")]


@router.post("/outbound/call-lists", response_model=CallListPublic, status_code=201)
def create_call_list(
    body: CallListCreate,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> CallListPublic:
    """A campaign call list: masked numbers and single-use dial references."""
    return service.create_list(
        session, runtime.policy, principal, body, clock.now(), settings.dial_reference_seconds
    )


@router.post("/dial-references/{dial_ref}/resolve", response_model=DialResolution)
def resolve_dial_reference(
    dial_ref: DialRef,
    response: Response,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    clock: ClockDep,
) -> DialResolution:
    """The number behind a dial reference, once (telephony platform only)."""
    response.headers["Cache-Control"] = "no-store"
    return service.resolve(session, runtime.policy, principal, dial_ref, clock.now())
