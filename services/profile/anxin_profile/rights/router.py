"""PIPL rights routes (thin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from anxin_profile.deps import ClockDep, SettingsDep
from anxin_profile.rights import service
from anxin_profile.rights.schemas import (
    CorrectionCreate,
    CustomerExport,
    DeletionCreate,
    RequestDecision,
    RightsRequestPublic,
)
from anxin_shared.deps import PrincipalDep, RuntimeDep, SessionDep

router = APIRouter(prefix="/api/v1", tags=["PIPL rights"])
Id = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


@router.get("/customers/{customer_id}/export", response_model=CustomerExport)
def export(
    customer_id: Id,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    clock: ClockDep,
) -> CustomerExport:
    """A copy of the customer's data (PIPL art. 45)."""
    return service.export(session, runtime.policy, principal, customer_id, clock.now())


@router.get("/customers/{customer_id}/rights-requests", response_model=list[RightsRequestPublic])
def list_requests(
    customer_id: Id, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> list[RightsRequestPublic]:
    """The customer's rights requests and their outcomes."""
    return service.list_requests(session, runtime.policy, principal, customer_id)


@router.post(
    "/customers/{customer_id}/corrections", response_model=RightsRequestPublic, status_code=201
)
def request_correction(
    customer_id: Id,
    body: CorrectionCreate,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    clock: ClockDep,
) -> RightsRequestPublic:
    """File the customer's correction request (PIPL art. 46)."""
    return service.request_correction(
        session, runtime.policy, principal, customer_id, body, clock.now()
    )


@router.post(
    "/customers/{customer_id}/deletion", response_model=RightsRequestPublic, status_code=201
)
def request_deletion(
    customer_id: Id,
    body: DeletionCreate,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> RightsRequestPublic:
    """The customer's deletion request (PIPL art. 47), honouring legal retention."""
    return service.request_deletion(
        session,
        runtime.policy,
        principal,
        customer_id,
        body,
        clock.now(),
        settings.legal_retention_years,
    )


@router.post("/rights-requests/{request_id}/decision", response_model=RightsRequestPublic)
def decide_request(
    request_id: Id,
    body: RequestDecision,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    clock: ClockDep,
) -> RightsRequestPublic:
    """Approve or reject a correction request, with a reason."""
    return service.decide_request(session, runtime.policy, principal, request_id, body, clock.now())
