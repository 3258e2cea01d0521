"""Ingest (idempotent, hash-chained, batched), queries scoped by policy, and verification."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from anxin_audit.checkpoints import repository as checkpoints
from anxin_audit.checkpoints.service import Checkpointer
from anxin_audit.checkpoints.signing import Checkpoint, public_key_pem
from anxin_audit.events import repository
from anxin_audit.events.chain import ChainReport, ChainVerifier, canonical, record_hash
from anxin_audit.events.models import AuditRecord
from anxin_audit.events.schemas import (
    AccessSummary,
    AttestationPublic,
    AttestationRequest,
    AuditPage,
    AuditRecordPublic,
    ChainExport,
    ChainRecord,
    ChainVerification,
    CheckpointList,
    CheckpointPublic,
    CustomerAccesses,
    IngestResult,
)
from anxin_audit.retention import repository as archives
from anxin_audit.state import AuditState
from anxin_shared.app import ServiceRuntime
from anxin_shared.audit_event import AuditEvent, decision_event
from anxin_shared.db import Database
from anxin_shared.errors import Forbidden
from anxin_shared.policy import Decision, PolicyEngine
from anxin_shared.principal import Principal

# One sequencer per partition: appends in this process are serialized here, and
# the head row's lock serializes them across processes on PostgreSQL.
APPEND_LOCK = threading.Lock()


def _row(
    seq: int, event: AuditEvent, body: str, now: datetime, prev: str, digest: str
) -> tuple[Any, ...]:
    """A record in `repository.COLUMNS` order."""
    return (
        seq,
        event.event_id,
        event.producer,
        event.occurred_at,
        now,
        event.actor,
        event.domain,
        event.resource,
        event.action,
        event.allowed,
        event.decision_id,
        event.request_id,
        event.trace_id,
        event.customer_ref,
        body,
        prev,
        digest,
    )


@dataclass
class _Waiting:
    """One caller's batch, waiting for the sequencer (see `append`)."""

    prepared: list[tuple[AuditEvent, str]]
    duplicates: int
    done: bool = False
    result: IngestResult | None = None
    error: BaseException | None = None


_QUEUES: dict[str, list[_Waiting]] = {}
_QUEUE_LOCK = threading.Lock()


def append(
    database: Database, events: list[AuditEvent], checkpointer: Checkpointer | None = None
) -> IngestResult:
    """Store new events at the chain's head; a re-delivered event id is stored once.

    Bodies are encoded before the sequencer is taken. Batches that arrive while
    another is being written wait in a queue, and whoever takes the sequencer
    next writes every waiting batch in one transaction (group commit): one
    executemany, one head move, one commit, whatever the number of producers.
    The sequencer commits while it holds the lock (the head row's lock on
    PostgreSQL), so no two appends can read the same head. A caller returns
    only after the transaction holding its events committed.
    """
    prepared: list[tuple[AuditEvent, str]] = []
    batch_ids: set[str] = set()
    for event in events:
        if event.event_id in batch_ids:
            continue
        batch_ids.add(event.event_id)
        prepared.append((event, canonical(event.as_json())))
    mine = _Waiting(prepared, len(events) - len(prepared))
    with _QUEUE_LOCK:
        queue = _QUEUES.setdefault(database.url, [])
        queue.append(mine)
    with APPEND_LOCK:
        if not mine.done:
            with _QUEUE_LOCK:
                group = list(queue)
                queue.clear()
            try:
                _write_group(database, group, checkpointer)
            except BaseException as exc:
                for waiting in group:
                    waiting.error, waiting.done = exc, True
                raise
    if mine.error is not None:
        raise mine.error
    assert mine.result is not None
    return mine.result


def _write_group(
    database: Database, group: list[_Waiting], checkpointer: Checkpointer | None
) -> None:
    """Write every waiting batch in one transaction, in arrival order."""
    now = datetime.now(UTC)
    wanted = [event.event_id for waiting in group for event, _ in waiting.prepared]
    with database.session() as session:
        head = repository.lock_head(session)
        seen = repository.existing_event_ids(session, wanted)
        seq, prev = head.seq, head.hash
        start_seq = seq
        rows = []
        outcomes = []
        for waiting in group:
            stored, duplicates = 0, waiting.duplicates
            for event, body in waiting.prepared:
                if event.event_id in seen:
                    duplicates += 1
                    continue
                seen.add(event.event_id)
                seq += 1
                digest = record_hash(seq, prev, body)
                rows.append(_row(seq, event, body, now, prev, digest))
                prev = digest
                stored += 1
            outcomes.append((waiting, stored, duplicates))
        repository.insert_rows(session, rows)
        if rows:
            repository.save_head(session, seq, prev)
            if checkpointer is not None:
                checkpointer.after_append(session, start_seq, seq, prev)
    for waiting, stored, duplicates in outcomes:
        waiting.result = IngestResult(stored=stored, duplicates=duplicates, head_seq=seq)
        waiting.done = True


# -- queries -------------------------------------------------------------------
def readable_domains(policy: PolicyEngine, principal: Principal) -> list[str]:
    """The subsidiaries whose audit events this principal may read."""
    subsidiaries = list((policy.state.catalogue.get("subsidiaries") or {}).keys())
    return [
        domain
        for domain in subsidiaries
        if policy.decide(
            principal.subject, domain, "audit.event", "read", principal.assurance_level
        ).allowed
    ]


def audit_own_action(
    database: Database,
    checkpointer: Checkpointer | None,
    principal: Principal,
    decision: Decision,
    *,
    action: str,
    resource: str,
    allowed: bool,
    customer_ref: str | None = None,
) -> None:
    """The audit service's own decisions go straight onto the chain, before any answer."""
    event = decision_event(
        "audit",
        principal,
        decision,
        action=action,
        resource=resource,
        allowed=allowed,
        customer_ref=customer_ref,
    )
    append(database, [AuditEvent.model_validate(event)], checkpointer)


def _scope(
    database: Database,
    checkpointer: Checkpointer | None,
    policy: PolicyEngine,
    principal: Principal,
    action: str,
    customer_ref: str | None = None,
) -> list[str]:
    domains = readable_domains(policy, principal)
    decision = policy.decide(
        principal.subject,
        principal.subsidiary or "-",
        "audit.event",
        "read",
        principal.assurance_level,
    )
    audit_own_action(
        database,
        checkpointer,
        principal,
        decision,
        action=action,
        resource="audit.event",
        allowed=bool(domains),
        customer_ref=customer_ref,
    )
    if not domains:
        raise Forbidden("no access to the audit trail", decision_id=decision.decision_id)
    return domains


def _public(record: AuditRecord) -> AuditRecordPublic:
    return AuditRecordPublic(
        seq=record.seq, hash=record.hash, prev_hash=record.prev_hash, event=_parse(record.body)
    )


def search(
    database: Database,
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    filters: dict[str, Any],
    after_seq: int,
    limit: int,
    checkpointer: Checkpointer | None = None,
) -> AuditPage:
    """Events the principal may read, filtered; the query itself is audited first."""
    domains = _scope(database, checkpointer, policy, principal, "read")
    subsidiary = filters.get("subsidiary")
    if subsidiary is not None and subsidiary not in domains:
        return AuditPage(items=[], next_after_seq=None)
    records = repository.query(
        session,
        domains,
        include_unscoped="group" in domains,
        after_seq=after_seq,
        limit=limit,
        **filters,
    )
    items = [_public(r) for r in records]
    return AuditPage(items=items, next_after_seq=items[-1].seq if len(items) == limit else None)


def customer_accesses(
    database: Database,
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    customer_id: str,
    after_seq: int,
    limit: int,
    checkpointer: Checkpointer | None = None,
) -> CustomerAccesses:
    """Who accessed this customer's data (a PIPL access request, an investigation)."""
    domains = _scope(database, checkpointer, policy, principal, "read", customer_ref=customer_id)
    records = repository.query(
        session,
        domains,
        include_unscoped="group" in domains,
        after_seq=after_seq,
        limit=limit,
        customer_ref=customer_id,
    )
    summary: dict[str, AccessSummary] = {}
    full_page = len(records) == limit
    last_seq = records[-1].seq if records else None
    # Lookups in the trail itself are recorded against the customer too, but they are
    # not accesses to the customer's data.
    records = [record for record in records if not record.resource.startswith("audit.")]
    for record in records:
        event = _parse(record.body)
        # SQLite hands back naive UTC; answers carry RFC 3339 times with their offset.
        at = record.occurred_at
        at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
        entry = summary.get(record.actor)
        if entry is None:
            entry = summary[record.actor] = AccessSummary(
                actor=record.actor,
                actor_kind=str(event.get("actor_kind") or ""),
                roles=list(event.get("roles") or []),
                actor_subsidiary=event.get("actor_subsidiary"),
                accesses=0,
                denied=0,
                actions=[],
                first_at=at,
                last_at=at,
            )
        entry.accesses += 1
        entry.denied += 0 if record.allowed else 1
        if record.action not in entry.actions:
            entry.actions.append(record.action)
        entry.first_at = min(entry.first_at, at)
        entry.last_at = max(entry.last_at, at)
    items = [_public(r) for r in records]
    return CustomerAccesses(
        customer_id=customer_id,
        actors=sorted(summary.values(), key=lambda entry: entry.actor),
        items=items,
        next_after_seq=last_seq if full_page else None,
    )


# -- verification --------------------------------------------------------------
def verify(
    session: Session,
    checkpointer: Checkpointer,
    max_unanchored: int | None,
    *,
    from_seq: int = 1,
    to_seq: int | None = None,
    expected_prev_hash: str | None = None,
    external: list[Checkpoint] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ChainVerification:
    """Recompute the chain (or a range of it) against the signed checkpoints.

    Stored checkpoints are used unless `external` anchors are given; an archive
    moves the start to its signed checkpoint. A range that stops short of the
    head skips the tail checks; the caller chains ranges with `expected_prev_hash`.
    """
    # Checkpoints before the head: a checkpoint signed meanwhile is then never past it.
    archive = archives.latest(session)
    start: Checkpoint | None = None
    if archive is not None:
        stored = checkpoints.get(session, archive.checkpoint_no)
        start = stored.as_checkpoint() if stored else None
    if external is not None:
        anchors = list(external)
    else:
        anchors = [cp.as_checkpoint() for cp in checkpoints.between(session, from_seq, to_seq)]
    head = repository.head(session)
    head_seq = head.seq if head else 0
    limit = head_seq if to_seq is None else min(to_seq, head_seq)
    ranged = to_seq is not None and to_seq < head_seq
    if from_seq > 1 and expected_prev_hash is None:
        previous = repository.record_at(session, from_seq - 1)
        expected_prev_hash = previous.hash if previous else None
    verifier = ChainVerifier(
        public_key=checkpointer.public_key,
        checkpoints=anchors,
        start=start,
        max_unanchored=None if external is not None else max_unanchored,
        expected_prev_hash=expected_prev_hash,
        first_seq=from_seq if from_seq > 1 else None,
        check_tail=not ranged,
    )
    if archive is not None and start is None:
        verifier.fail(archive.through_seq, "the archive's signed checkpoint is missing")
    for rows in repository.iter_chain_rows(session, max(from_seq, verifier.start_seq), limit):
        if not verifier.feed(rows):
            break
        if on_progress is not None:
            on_progress(verifier.records)
    report: ChainReport = verifier.finish()
    return ChainVerification(
        ok=report.ok,
        records=report.records,
        head_seq=report.head_seq,
        head_hash=report.head_hash,
        first_bad_seq=report.first_bad_seq,
        problem=report.problem,
        checkpoints_verified=report.checkpoints_verified,
        start_seq=report.start_seq,
        chain_head_seq=head_seq,
        archived_through_seq=archive.through_seq if archive else 0,
    )


def _parse(body: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(body)
    return parsed


# -- authorization of the audit service's own routes ------------------------------
def authorize(
    runtime: ServiceRuntime,
    audit: AuditState,
    principal: Principal,
    resource: str,
    action: str,
    domain: str | None = None,
) -> Decision:
    """Decide (and audit) one object-level action; raise Forbidden when denied."""
    decision = runtime.policy.decide(
        principal.subject,
        domain or principal.subsidiary or "-",
        resource,
        action,
        principal.assurance_level,
    )
    audit_own_action(
        runtime.database,
        audit.checkpointer,
        principal,
        decision,
        action=action,
        resource=resource,
        allowed=decision.allowed,
    )
    if not decision.allowed:
        raise Forbidden(
            "this action on the audit trail is not allowed", decision_id=decision.decision_id
        )
    return decision


# -- attestations --------------------------------------------------------------------
def attest(
    runtime: ServiceRuntime,
    audit: AuditState,
    principal: Principal,
    request: AttestationRequest,
) -> AttestationPublic:
    """Put a signed document's hash on the chain, as an event of its own kind."""
    decision = authorize(runtime, audit, principal, "audit.attestation", "create", "group")
    event = AuditEvent.model_validate(
        decision_event(
            "audit",
            principal,
            decision,
            action="attest",
            resource="audit.attestation",
            kind="attestation",
            document_kind=request.document_kind,
            document_sha256=request.document_sha256,
            document_key_id=request.key_id,
        )
    )
    append(runtime.database, [event], audit.checkpointer)
    with runtime.database.session() as session:
        (record,) = repository.records_by_event_ids(session, [event.event_id])
        return AttestationPublic(
            event_id=event.event_id,
            seq=record.seq,
            hash=record.hash,
            document_kind=request.document_kind,
            document_sha256=request.document_sha256,
            key_id=request.key_id,
        )


# -- checkpoints and export ---------------------------------------------------------
def checkpoint_value(item: CheckpointPublic) -> Checkpoint:
    """The verifier's value of a checkpoint received over the API."""
    return Checkpoint(**item.model_dump())


def _checkpoint_public(checkpoint: Checkpoint) -> CheckpointPublic:
    return CheckpointPublic(**checkpoint.as_dict())


def list_checkpoints(session: Session, checkpointer: Checkpointer, limit: int) -> CheckpointList:
    """The newest checkpoints, newest first, with the verifying key."""
    return CheckpointList(
        items=[_checkpoint_public(cp.as_checkpoint()) for cp in checkpoints.newest(session, limit)],
        public_key_pem=public_key_pem(checkpointer.public_key),
    )


def checkpoint_now(database: Database, checkpointer: Checkpointer) -> CheckpointPublic:
    """Sign the head now (a manual checkpoint), or return the latest if the head has not moved."""
    with APPEND_LOCK, database.session() as session:
        head = repository.lock_head(session)
        last = checkpoints.latest(session)
        if last is not None and last.seq == head.seq:
            return _checkpoint_public(last.as_checkpoint())
        taken = checkpointer.take(session, head.seq, head.hash, "manual")
    return _checkpoint_public(taken)


def export_page(
    session: Session, checkpointer: Checkpointer, after_seq: int, limit: int
) -> ChainExport:
    """Records after `after_seq` with the checkpoints they reach, and where the chain starts."""
    head = repository.head(session)
    head_seq = head.seq if head else 0
    archive = archives.latest(session)
    start = None
    if archive is not None:
        stored = checkpoints.get(session, archive.checkpoint_no)
        start = _checkpoint_public(stored.as_checkpoint()) if stored else None
    chunk = next(repository.iter_chain_rows(session, after_seq + 1, head_seq, limit), [])
    records = [ChainRecord(seq=r[0], prev_hash=r[1], hash=r[2], body=r[3]) for r in chunk]
    last = records[-1].seq if records else after_seq
    anchors = checkpoints.between(session, after_seq + 1, last) if records else []
    return ChainExport(
        start=start,
        records=records,
        checkpoints=[_checkpoint_public(cp.as_checkpoint()) for cp in anchors],
        head_seq=head_seq,
        next_after_seq=last if records and last < head_seq else None,
        public_key_pem=public_key_pem(checkpointer.public_key),
    )
