"""Queries on the audit trail. Records are only ever inserted."""

from __future__ import annotations

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, or_, select

from anxin_audit.events.models import AuditRecord, ChainHead

PARTITION = "main"


def lock_head(session: Session) -> ChainHead:
    """The chain head, locked for this transaction (created on first use)."""
    statement = select(ChainHead).where(ChainHead.partition == PARTITION).with_for_update()
    head = session.exec(statement).first()
    if head is None:
        raise RuntimeError("the chain head is missing; run the audit migrations")
    return head


def existing_event_ids(session: Session, event_ids: list[str]) -> set[str]:
    """Which of these event ids are stored already."""
    if not event_ids:
        return set()
    statement = select(AuditRecord.event_id).where(col(AuditRecord.event_id).in_(event_ids))
    return set(session.exec(statement).all())


def query(
    session: Session,
    domains: list[str],
    *,
    include_unscoped: bool,
    request_id: str | None,
    decision_id: str | None,
    actor: str | None,
    customer_ref: str | None,
    after_seq: int,
    limit: int,
) -> list[AuditRecord]:
    """Records in the given subsidiaries matching the filters, oldest first."""
    scope: ColumnElement[bool] = col(AuditRecord.domain).in_(domains)
    if include_unscoped:
        scope = or_(scope, col(AuditRecord.domain).is_(None))
    statement = select(AuditRecord).where(scope).where(AuditRecord.seq > after_seq)
    if request_id:
        statement = statement.where(AuditRecord.request_id == request_id)
    if decision_id:
        statement = statement.where(AuditRecord.decision_id == decision_id)
    if actor:
        statement = statement.where(AuditRecord.actor == actor)
    if customer_ref:
        statement = statement.where(AuditRecord.customer_ref == customer_ref)
    statement = statement.order_by(col(AuditRecord.seq)).limit(limit)
    return list(session.exec(statement).all())


def chain_rows(session: Session) -> list[tuple[int, str, str, str]]:
    """Every record as (seq, prev_hash, hash, body), in order."""
    statement = select(
        AuditRecord.seq, AuditRecord.prev_hash, AuditRecord.hash, AuditRecord.body
    ).order_by(col(AuditRecord.seq))
    return [tuple(row) for row in session.exec(statement).all()]  # type: ignore[misc]
