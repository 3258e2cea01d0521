"""Archive bookkeeping and the one delete the database allows: an archived prefix."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from anxin_audit.events.models import AuditRecord
from anxin_audit.retention.models import AuditArchive


def latest(session: Session) -> AuditArchive | None:
    """The newest archive (the stored chain begins after its `through_seq`)."""
    statement = select(AuditArchive).order_by(col(AuditArchive.archive_no).desc()).limit(1)
    return session.exec(statement).first()


def next_number(session: Session) -> int:
    """The number the next archive gets."""
    return int(session.exec(select(func.max(AuditArchive.archive_no))).one() or 0) + 1


def last_seq_before(session: Session, cutoff: datetime) -> int | None:
    """The highest sequence recorded before `cutoff` (archiving takes a prefix)."""
    statement = select(func.max(AuditRecord.seq)).where(AuditRecord.recorded_at < cutoff)
    found = session.exec(statement).one()
    return int(found) if found is not None else None


def add(session: Session, archive: AuditArchive) -> None:
    """Record an archive (before the delete: the database allows only archived deletes)."""
    session.add(archive)
    session.flush()


def delete_through(session: Session, through_seq: int) -> int:
    """Delete the archived prefix; returns how many rows went."""
    table = AuditRecord.__table__  # type: ignore[attr-defined]
    result = session.connection().execute(sa.delete(table).where(table.c.seq <= through_seq))
    return int(result.rowcount or 0)
