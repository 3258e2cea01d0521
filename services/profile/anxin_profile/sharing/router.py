"""Gated sharing for subsidiary systems (public, through the gateway)."""

from __future__ import annotations

from typing import Annotated

import anyio.from_thread
from fastapi import APIRouter, Path, Query

from anxin_profile.sharing import service
from anxin_profile.sharing.schemas import SharingResponse
from anxin_shared.consent import ConsentCheck, ConsentClient
from anxin_shared.deps import PrincipalDep, RuntimeDep, SessionDep

router = APIRouter(prefix="/api/v1/shared", tags=["gated sharing"])
CustomerId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Purpose = Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]{0,63}$")]


@router.get("/customers/{customer_id}", response_model=SharingResponse)
def shared_customer(
    customer_id: CustomerId,
    purpose: Purpose,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> SharingResponse:
    """A customer's data for a declared purpose: only fields policy and consent allow."""
    plan = service.plan(session, runtime.policy, principal, customer_id, purpose)
    categories = service.plan_categories(runtime.policy, plan)
    consents: dict[str, ConsentCheck] = {}
    if plan.customer is not None and categories:
        client = ConsentClient(runtime.peers)
        consents = anyio.from_thread.run(
            client.check_all, customer_id, purpose, categories, plan.recipient
        )
    return service.disclose(session, runtime.policy, principal, customer_id, plan, consents)
