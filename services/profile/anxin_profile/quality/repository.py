"""Queries on screening runs, data-quality issues and commission holds."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from anxin_profile.quality.models import CommissionHold, QualityIssue, QualityRun


def get_run(session: Session, run_id: str) -> QualityRun | None:
    """A screening run by id."""
    return session.get(QualityRun, run_id)


def issue_by_fingerprint(session: Session, fingerprint: str) -> QualityIssue | None:
    """The issue a finding maps to, if it was opened before."""
    return session.exec(select(QualityIssue).where(QualityIssue.fingerprint == fingerprint)).first()


def get_issue(session: Session, issue_id: str) -> QualityIssue | None:
    """One issue by id."""
    return session.get(QualityIssue, issue_id)


def unresolved_for(session: Session, customer_ids: list[str]) -> list[QualityIssue]:
    """Open or overdue issues of some customers."""
    statement = select(QualityIssue).where(
        col(QualityIssue.customer_id).in_(customer_ids),
        col(QualityIssue.status).in_(("open", "overdue")),
    )
    return list(session.exec(statement).all())


def past_deadline(session: Session, now: datetime, subsidiaries: list[str]) -> list[QualityIssue]:
    """Open issues whose deadline has passed."""
    statement = select(QualityIssue).where(
        QualityIssue.status == "open",
        QualityIssue.deadline < now,
        col(QualityIssue.subsidiary).in_(subsidiaries),
    )
    return list(session.exec(statement.order_by(col(QualityIssue.deadline))).all())


def issues(
    session: Session, subsidiaries: list[str], status: str | None, limit: int, offset: int
) -> list[QualityIssue]:
    """A page of issues of some subsidiaries."""
    statement = select(QualityIssue).where(col(QualityIssue.subsidiary).in_(subsidiaries))
    if status:
        statement = statement.where(QualityIssue.status == status)
    statement = statement.order_by(col(QualityIssue.opened_at), col(QualityIssue.issue_id))
    return list(session.exec(statement.offset(offset).limit(limit)).all())


def all_issues(session: Session, subsidiaries: list[str]) -> list[QualityIssue]:
    """Every issue of some subsidiaries (for reports)."""
    statement = select(QualityIssue).where(col(QualityIssue.subsidiary).in_(subsidiaries))
    return list(session.exec(statement).all())


def hold_for_issue(session: Session, issue_id: str) -> CommissionHold | None:
    """The commission hold an overdue issue caused, if any."""
    return session.exec(select(CommissionHold).where(CommissionHold.issue_id == issue_id)).first()


def holds(session: Session, subsidiaries: list[str]) -> list[CommissionHold]:
    """Commission holds of some subsidiaries."""
    statement = select(CommissionHold).where(col(CommissionHold.subsidiary).in_(subsidiaries))
    return list(session.exec(statement.order_by(col(CommissionHold.held_at))).all())
