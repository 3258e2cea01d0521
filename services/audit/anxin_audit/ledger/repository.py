"""Ledger storage and queries."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, col, select

from anxin_audit.ledger.models import AuditFinding, AuditInspection


def add(session: Session, item: AuditInspection | AuditFinding) -> None:
    """Store an inspection or a finding."""
    session.add(item)
    session.flush()


def inspection(session: Session, inspection_id: str) -> AuditInspection | None:
    """One inspection."""
    return session.get(AuditInspection, inspection_id)


def finding(session: Session, finding_id: str) -> AuditFinding | None:
    """One finding."""
    return session.get(AuditFinding, finding_id)


def inspections(
    session: Session, subsidiaries: list[str], limit: int, offset: int
) -> list[AuditInspection]:
    """Inspections in these subsidiaries, newest first."""
    statement = (
        select(AuditInspection)
        .where(col(AuditInspection.subsidiary).in_(subsidiaries))
        .order_by(col(AuditInspection.inspection_date).desc(), col(AuditInspection.inspection_id))
        .offset(offset)
        .limit(limit)
    )
    return list(session.exec(statement).all())


def findings_of(session: Session, inspection_id: str) -> list[AuditFinding]:
    """The findings of one inspection."""
    statement = (
        select(AuditFinding)
        .where(AuditFinding.inspection_id == inspection_id)
        .order_by(col(AuditFinding.created_at), col(AuditFinding.finding_id))
    )
    return list(session.exec(statement).all())


def overdue(
    session: Session, subsidiaries: list[str], today: date
) -> list[tuple[AuditFinding, AuditInspection]]:
    """Findings not closed by their deadline, in these subsidiaries, most overdue first."""
    statement = (
        select(AuditFinding, AuditInspection)
        .join(
            AuditInspection, col(AuditInspection.inspection_id) == col(AuditFinding.inspection_id)
        )
        .where(AuditFinding.status != "closed")
        .where(AuditFinding.deadline < today)
        .where(col(AuditFinding.responsible_subsidiary).in_(subsidiaries))
        .order_by(col(AuditFinding.deadline), col(AuditFinding.finding_id))
    )
    return [(row[0], row[1]) for row in session.exec(statement).all()]
