"""Checkpoint storage: insert and read only."""

from __future__ import annotations

from sqlmodel import Session, col, func, select

from anxin_audit.checkpoints.models import AuditCheckpoint


def latest(session: Session) -> AuditCheckpoint | None:
    """The newest checkpoint."""
    statement = select(AuditCheckpoint).order_by(col(AuditCheckpoint.checkpoint_no).desc())
    return session.exec(statement.limit(1)).first()


def next_number(session: Session) -> int:
    """The number the next checkpoint gets."""
    found = session.exec(select(func.max(AuditCheckpoint.checkpoint_no))).one()
    return int(found or 0) + 1


def add(session: Session, checkpoint: AuditCheckpoint) -> None:
    """Store a signed checkpoint."""
    session.add(checkpoint)
    session.flush()


def get(session: Session, checkpoint_no: int) -> AuditCheckpoint | None:
    """One checkpoint by number."""
    return session.get(AuditCheckpoint, checkpoint_no)


def between(session: Session, from_seq: int, to_seq: int | None) -> list[AuditCheckpoint]:
    """Checkpoints whose sequence lies in [from_seq, to_seq], oldest first."""
    statement = select(AuditCheckpoint).where(AuditCheckpoint.seq >= from_seq)
    if to_seq is not None:
        statement = statement.where(AuditCheckpoint.seq <= to_seq)
    statement = statement.order_by(col(AuditCheckpoint.seq), col(AuditCheckpoint.checkpoint_no))
    return list(session.exec(statement).all())


def after_number(session: Session, checkpoint_no: int, limit: int) -> list[AuditCheckpoint]:
    """Checkpoints numbered after `checkpoint_no` (anchor export)."""
    statement = (
        select(AuditCheckpoint)
        .where(AuditCheckpoint.checkpoint_no > checkpoint_no)
        .order_by(col(AuditCheckpoint.checkpoint_no))
        .limit(limit)
    )
    return list(session.exec(statement).all())


def newest(session: Session, limit: int) -> list[AuditCheckpoint]:
    """The newest checkpoints, newest first."""
    statement = (
        select(AuditCheckpoint).order_by(col(AuditCheckpoint.checkpoint_no).desc()).limit(limit)
    )
    return list(session.exec(statement).all())
