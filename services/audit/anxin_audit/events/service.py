"""Ingest (idempotent, hash-chained), queries scoped by policy, and verification."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from anxin_audit.events import repository
from anxin_audit.events.chain import canonical, record_hash, verify_records
from anxin_audit.events.models import AuditRecord
from anxin_audit.events.schemas import (
    AuditPage,
    AuditRecordPublic,
    ChainVerification,
    IngestResult,
)
from anxin_shared.audit_event import AuditEvent, decision_event
from anxin_shared.db import Database
from anxin_shared.errors import Forbidden
from anxin_shared.policy import PolicyEngine
from anxin_shared.principal import Principal

# One sequencer per partition: appends in this process are serialized here, and
# the head row's lock serializes them across processes on PostgreSQL.
_APPEND_LOCK = threading.Lock()


def append(database: Database, events: list[AuditEvent]) -> IngestResult:
    """Store new events at the chain's head; a re-delivered event id is stored once.

    The sequencer commits its own transaction while it holds the lock (the head
    row's lock on PostgreSQL), so no two appends can read the same head.
    """
    with _APPEND_LOCK, database.session() as session:
        head = repository.lock_head(session)
        seen = repository.existing_event_ids(session, [event.event_id for event in events])
        stored = duplicates = 0
        now = datetime.now(UTC)
        for event in events:
            if event.event_id in seen:
                duplicates += 1
                continue
            seen.add(event.event_id)
            body = canonical(event.model_dump(mode="json"))
            seq = head.seq + 1
            digest = record_hash(seq, head.hash, body)
            session.add(
                AuditRecord(
                    seq=seq,
                    event_id=event.event_id,
                    producer=event.producer,
                    occurred_at=event.occurred_at,
                    recorded_at=now,
                    actor=event.actor,
                    domain=event.domain,
                    resource=event.resource,
                    action=event.action,
                    allowed=event.allowed,
                    decision_id=event.decision_id,
                    request_id=event.request_id,
                    trace_id=event.trace_id,
                    customer_ref=event.customer_ref,
                    body=body,
                    prev_hash=head.hash,
                    hash=digest,
                )
            )
            head.seq, head.hash = seq, digest
            stored += 1
        session.add(head)
        session.flush()
        result = IngestResult(stored=stored, duplicates=duplicates, head_seq=head.seq)
    return result


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


def search(
    database: Database,
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    filters: dict[str, Any],
    after_seq: int,
    limit: int,
) -> AuditPage:
    """Events the principal may read, filtered; the query itself is audited first."""
    domains = readable_domains(policy, principal)
    decision = policy.decide(
        principal.subject,
        principal.subsidiary or "-",
        "audit.event",
        "read",
        principal.assurance_level,
    )
    append(
        database,
        [
            AuditEvent.model_validate(
                decision_event(
                    "audit",
                    principal,
                    decision,
                    action="read",
                    resource="audit.event",
                    allowed=bool(domains),
                )
            )
        ],
    )
    if not domains:
        raise Forbidden("no access to the audit trail", decision_id=decision.decision_id)
    records = repository.query(
        session,
        domains,
        include_unscoped="group" in domains,
        after_seq=after_seq,
        limit=limit,
        **filters,
    )
    items = [
        AuditRecordPublic(seq=r.seq, hash=r.hash, prev_hash=r.prev_hash, event=_parse(r.body))
        for r in records
    ]
    return AuditPage(items=items, next_after_seq=items[-1].seq if len(items) == limit else None)


def verify(session: Session) -> ChainVerification:
    """Recompute the whole chain."""
    report = verify_records(repository.chain_rows(session))
    return ChainVerification(**report.__dict__)


def _parse(body: str) -> dict[str, Any]:
    import json

    parsed: dict[str, Any] = json.loads(body)
    return parsed
