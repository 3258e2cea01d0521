"""Customer routes: thin handlers that parse, then call one service function."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from anxin_profile.customers import service
from anxin_profile.customers.schemas import (
    CustomerCreate,
    CustomerPage,
    CustomerPublic,
    CustomerUpdate,
)
from anxin_profile.deps import ClockDep
from anxin_shared.deps import PrincipalDep, RuntimeDep, SessionDep

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])
CustomerId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


@router.get("", response_model=CustomerPage)
def list_customers(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> CustomerPage:
    """Customers of the caller's subsidiary, masked by policy."""
    return service.list_page(session, runtime.policy, principal, limit, offset)


@router.post("", response_model=CustomerPublic, status_code=201)
def create_customer(
    body: CustomerCreate,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    clock: ClockDep,
) -> CustomerPublic:
    """Create a customer of your subsidiary; 422 lists every bad field and nothing is stored."""
    return service.create_customer(session, runtime.policy, principal, body, clock.now())


@router.get("/{customer_id}", response_model=CustomerPublic)
def read_customer(
    customer_id: CustomerId, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> CustomerPublic:
    """One customer, masked by policy and by the call's assurance level."""
    return service.read_customer(session, runtime.policy, principal, customer_id)


@router.patch("/{customer_id}", response_model=CustomerPublic)
def update_customer(
    customer_id: CustomerId,
    body: CustomerUpdate,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    clock: ClockDep,
) -> CustomerPublic:
    """Change a customer; the merged record is validated (422 lists every bad field)."""
    return service.update_customer(
        session, runtime.policy, principal, customer_id, body, clock.now()
    )
