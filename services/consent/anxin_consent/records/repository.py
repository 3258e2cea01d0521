"""Queries on consent records and the change counter. Records are only ever inserted."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from anxin_consent.records.models import ConsentEpoch, ConsentRecord

EPOCH_ROW = 1


def add_record(session: Session, record: ConsentRecord) -> ConsentRecord:
    """Append one record and bump the change counter, in the caller's transaction."""
    session.add(record)
    session.flush()
    session.execute(
        sa.update(ConsentEpoch)
        .where(col(ConsentEpoch.id) == EPOCH_ROW)
        .values(value=col(ConsentEpoch.value) + 1)
    )
    return record


def read_epoch(session: Session) -> int:
    """The change counter (read before any record, so a cache never outlives a change)."""
    value = session.exec(select(ConsentEpoch.value).where(ConsentEpoch.id == EPOCH_ROW)).first()
    return int(value or 0)


def latest_for_scope(
    session: Session, customer_id: str, purpose: str, category: str, recipient: str
) -> ConsentRecord | None:
    """The newest record of one scope: what holds now."""
    statement = (
        select(ConsentRecord)
        .where(
            ConsentRecord.customer_id == customer_id,
            ConsentRecord.purpose == purpose,
            ConsentRecord.category == category,
            ConsentRecord.recipient == recipient,
        )
        .order_by(col(ConsentRecord.seq).desc())
        .limit(1)
    )
    return session.exec(statement).first()


def history(session: Session, customer_id: str) -> list[ConsentRecord]:
    """Every record of one customer, oldest first."""
    statement = (
        select(ConsentRecord)
        .where(ConsentRecord.customer_id == customer_id)
        .order_by(col(ConsentRecord.seq))
    )
    return list(session.exec(statement).all())


def any_subsidiary(session: Session, customer_id: str) -> str | None:
    """The subsidiary a customer's records were written under, if any."""
    statement = (
        select(ConsentRecord.customer_subsidiary)
        .where(ConsentRecord.customer_id == customer_id)
        .limit(1)
    )
    return session.exec(statement).first()


def due_to_expire(session: Session, now: datetime, limit: int) -> list[ConsentRecord]:
    """Grants past their expiry that are still the latest record of their scope."""
    later = sa.orm.aliased(ConsentRecord)
    newer = (
        select(later.seq)
        .where(
            later.customer_id == ConsentRecord.customer_id,
            later.purpose == ConsentRecord.purpose,
            later.category == ConsentRecord.category,
            later.recipient == ConsentRecord.recipient,
            col(later.seq) > col(ConsentRecord.seq),
        )
        .exists()
    )
    statement = (
        select(ConsentRecord)
        .where(
            ConsentRecord.action == "grant",
            col(ConsentRecord.expires_at) <= now,
            ~newer,
        )
        .order_by(col(ConsentRecord.seq))
        .limit(limit)
    )
    return list(session.exec(statement).all())
