"""Audit routes: the producers' batch ingest (internal), queries and verification."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from anxin_audit.events import service
from anxin_audit.events.schemas import AuditPage, ChainVerification, EventBatch, IngestResult
from anxin_shared.deps import PrincipalDep, RuntimeDep, SessionDep, require_service

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
internal_router = APIRouter(prefix="/internal/v1", tags=["internal"])
IdFilter = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


@internal_router.post(
    "/events:batch",
    response_model=IngestResult,
    dependencies=[Depends(require_service("audit.event", "create"))],
)
def ingest(batch: EventBatch, runtime: RuntimeDep) -> IngestResult:
    """Store a batch from a producer's outbox (idempotent by event id)."""
    return service.append(runtime.database, batch.events)


@router.get("/events", response_model=AuditPage)
def search_events(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    request_id: IdFilter = None,
    decision_id: IdFilter = None,
    actor: IdFilter = None,
    customer_ref: IdFilter = None,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    """Events in the subsidiaries the caller may audit, oldest first."""
    filters = {
        "request_id": request_id,
        "decision_id": decision_id,
        "actor": actor,
        "customer_ref": customer_ref,
    }
    return service.search(
        runtime.database, session, runtime.policy, principal, filters, after_seq, limit
    )


@router.get("/chain/verify", response_model=ChainVerification)
def verify_chain(principal: PrincipalDep, session: SessionDep) -> ChainVerification:
    """Recompute every hash of the chain and report the first break."""
    return service.verify(session)
