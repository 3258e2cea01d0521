"""Audit routes: the producers' batch ingest (internal), queries, verification, export."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from anxin_audit.events import service
from anxin_audit.events.schemas import (
    AttestationPublic,
    AttestationRequest,
    AuditPage,
    ChainExport,
    ChainVerification,
    ChainVerifyRequest,
    CheckpointList,
    CheckpointPublic,
    CustomerAccesses,
    EventBatch,
    IngestResult,
)
from anxin_audit.state import AuditStateDep
from anxin_shared.deps import PrincipalDep, RuntimeDep, SessionDep, require_service

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
internal_router = APIRouter(prefix="/internal/v1", tags=["internal"])
IdFilter = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
NameFilter = Annotated[str | None, Query(max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$")]
CustomerId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Limit = Annotated[int, Query(ge=1, le=500)]
AfterSeq = Annotated[int, Query(ge=0)]


@internal_router.post(
    "/events:batch",
    response_model=IngestResult,
    dependencies=[Depends(require_service("audit.event", "create"))],
)
def ingest(batch: EventBatch, runtime: RuntimeDep, audit: AuditStateDep) -> IngestResult:
    """Store a batch from a producer's outbox (idempotent by event id)."""
    return service.append(runtime.database, batch.events, audit.checkpointer)


@router.get("/events", response_model=AuditPage)
def search_events(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    audit: AuditStateDep,
    request_id: IdFilter = None,
    decision_id: IdFilter = None,
    actor: NameFilter = None,
    customer_ref: IdFilter = None,
    subsidiary: IdFilter = None,
    resource: IdFilter = None,
    action: IdFilter = None,
    producer: IdFilter = None,
    decision: Literal["allowed", "denied"] | None = None,
    occurred_from: datetime | None = None,
    occurred_to: datetime | None = None,
    after_seq: AfterSeq = 0,
    limit: Limit = 100,
) -> AuditPage:
    """Events in the subsidiaries the caller may audit, oldest first, filtered."""
    filters = {
        "request_id": request_id,
        "decision_id": decision_id,
        "actor": actor,
        "customer_ref": customer_ref,
        "subsidiary": subsidiary,
        "resource": resource,
        "action": action,
        "producer": producer,
        "allowed": None if decision is None else decision == "allowed",
        "occurred_from": occurred_from,
        "occurred_to": occurred_to,
    }
    return service.search(
        runtime.database,
        session,
        runtime.policy,
        principal,
        filters,
        after_seq,
        limit,
        audit.checkpointer,
    )


@router.get("/customers/{customer_id}/accesses", response_model=CustomerAccesses)
def who_accessed_customer(
    customer_id: CustomerId,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    audit: AuditStateDep,
    after_seq: AfterSeq = 0,
    limit: Limit = 200,
) -> CustomerAccesses:
    """Who accessed this customer's data, and how (also serves a PIPL access request)."""
    return service.customer_accesses(
        runtime.database,
        session,
        runtime.policy,
        principal,
        customer_id,
        after_seq,
        limit,
        audit.checkpointer,
    )


@router.get("/chain/verify", response_model=ChainVerification)
def verify_chain(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    audit: AuditStateDep,
    from_seq: Annotated[int, Query(ge=1)] = 1,
    to_seq: Annotated[int | None, Query(ge=1)] = None,
    expected_prev_hash: Annotated[str | None, Query(pattern=r"^[0-9a-f]{64}$")] = None,
) -> ChainVerification:
    """Recompute the chain (or a range) against the stored signed checkpoints."""
    service.authorize(runtime, audit, principal, "audit.event", "verify")
    return service.verify(
        session,
        audit.signer(),
        audit.settings.max_unanchored,
        from_seq=from_seq,
        to_seq=to_seq,
        expected_prev_hash=expected_prev_hash,
    )


@router.post("/chain/verify", response_model=ChainVerification)
def verify_chain_against_anchors(
    body: ChainVerifyRequest,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    audit: AuditStateDep,
) -> ChainVerification:
    """Recompute the whole chain against external checkpoints (an anchor file's)."""
    service.authorize(runtime, audit, principal, "audit.event", "verify")
    return service.verify(
        session,
        audit.signer(),
        None,
        external=[service.checkpoint_value(item) for item in body.checkpoints],
    )


@router.get("/chain/export", response_model=ChainExport)
def export_chain(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    audit: AuditStateDep,
    after_seq: AfterSeq = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> ChainExport:
    """A page of the chain with its checkpoints, for a copy kept elsewhere."""
    # The export holds every subsidiary's events: only a group-wide grant may take it.
    service.authorize(runtime, audit, principal, "audit.event", "export", "group")
    return service.export_page(session, audit.signer(), after_seq, limit)


@router.get("/checkpoints", response_model=CheckpointList)
def list_checkpoints(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    audit: AuditStateDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> CheckpointList:
    """The newest signed checkpoints and the public key that verifies them."""
    service.authorize(runtime, audit, principal, "audit.checkpoint", "read")
    return service.list_checkpoints(session, audit.signer(), limit)


@router.post("/attestations", response_model=AttestationPublic, status_code=201)
def attest(
    request: AttestationRequest, principal: PrincipalDep, runtime: RuntimeDep, audit: AuditStateDep
) -> AttestationPublic:
    """Record a signed document's SHA-256 (a compliance report) as an event on the chain."""
    return service.attest(runtime, audit, principal, request)


@router.post("/checkpoints", response_model=CheckpointPublic, status_code=201)
def take_checkpoint(
    principal: PrincipalDep, runtime: RuntimeDep, audit: AuditStateDep
) -> CheckpointPublic:
    """Sign the current head now (before an export or a hand-over)."""
    service.authorize(runtime, audit, principal, "audit.checkpoint", "create", "group")
    return service.checkpoint_now(runtime.database, audit.signer())
