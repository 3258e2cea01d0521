"""Consent-record routes: thin handlers that parse, then call one service function.

There is deliberately no route that updates or deletes a record: a change of
mind is a new record (a withdrawal), and any other method answers 405.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from starlette.concurrency import run_in_threadpool

from anxin_consent.records import service
from anxin_consent.records.customers import customer_subsidiary
from anxin_consent.records.schemas import (
    ConsentGrantCreate,
    ConsentRecordChange,
    ConsentStatePage,
    ConsentWithdrawalCreate,
    CustomerConsentExport,
)
from anxin_shared.deps import PrincipalDep, RuntimeDep, SessionDep

router = APIRouter(prefix="/api/v1/consent", tags=["consent"])
CustomerIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,32}$")]


@router.post("/records", response_model=ConsentRecordChange, status_code=201)
async def grant_consent(
    body: ConsentGrantCreate, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> ConsentRecordChange:
    """Record a customer's consent to one scope of a published notice version."""
    subsidiary = await customer_subsidiary(runtime.peers, body.customer_id)
    return await run_in_threadpool(
        service.grant, session, runtime.policy, principal, body, subsidiary
    )


@router.post("/withdrawals", response_model=ConsentRecordChange, status_code=201)
async def withdraw_consent(
    body: ConsentWithdrawalCreate,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> ConsentRecordChange:
    """Withdraw the consent that holds for one scope; effective when this call returns."""
    subsidiary = await customer_subsidiary(runtime.peers, body.customer_id)
    return await run_in_threadpool(
        service.withdraw, session, runtime.policy, principal, body, subsidiary
    )


@router.get("/customers/{customer_id}/consents", response_model=ConsentStatePage)
async def current_consents(
    customer_id: CustomerIdPath, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> ConsentStatePage:
    """What holds now for each scope a customer ever consented to."""
    subsidiary = await customer_subsidiary(runtime.peers, customer_id)
    return await run_in_threadpool(
        service.current, session, runtime.policy, principal, customer_id, subsidiary
    )


@router.get(
    "/customers/{customer_id}/export",
    response_model=CustomerConsentExport,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def export_consents(
    customer_id: CustomerIdPath,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> CustomerConsentExport | Response:
    """The customer's copy: the complete history with the exact notice texts (JSON or CSV)."""
    subsidiary = await customer_subsidiary(runtime.peers, customer_id)
    copy = await run_in_threadpool(
        service.export, session, runtime.policy, principal, customer_id, subsidiary
    )
    if format == "csv":
        return Response(service.export_csv(copy), media_type="text/csv; charset=utf-8")
    return copy
