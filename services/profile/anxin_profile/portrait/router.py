"""Portrait, household, notes and unmask routes (thin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from anxin_profile.deps import ClockDep, SettingsDep
from anxin_profile.portrait import service
from anxin_profile.portrait.schemas import (
    HouseholdView,
    NoteCreate,
    NotePublic,
    Portrait,
    UnmaskRequest,
    UnmaskResult,
)
from anxin_shared.deps import PrincipalDep, RuntimeDep, SessionDep

router = APIRouter(prefix="/api/v1/customers", tags=["portrait"])
CustomerId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


@router.get("/{customer_id}/portrait", response_model=Portrait)
def read_portrait(
    customer_id: CustomerId, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> Portrait:
    """The customer in your call: contact points, products, household, segments, notes."""
    return service.portrait(session, runtime.policy, principal, customer_id)


@router.get("/{customer_id}/household", response_model=HouseholdView)
def read_household(
    customer_id: CustomerId, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> HouseholdView:
    """The household of the customer in your call."""
    return service.household_view(session, runtime.policy, principal, customer_id)


@router.post("/{customer_id}/notes", response_model=NotePublic, status_code=201)
def add_note(
    customer_id: CustomerId,
    body: NoteCreate,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    clock: ClockDep,
) -> NotePublic:
    """Record an interaction note."""
    return service.add_note(session, runtime.policy, principal, customer_id, body, clock.now())


@router.post("/{customer_id}/unmask", response_model=UnmaskResult)
def unmask(
    customer_id: CustomerId,
    body: UnmaskRequest,
    response: Response,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> UnmaskResult:
    """Show some fields plain, with a reason; allowed only where policy says, always audited."""
    response.headers["Cache-Control"] = "no-store"
    return service.unmask(
        session,
        runtime.policy,
        principal,
        customer_id,
        body,
        clock.now(),
        settings.unmask_grant_seconds,
    )
