"""Alert storage and queries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, select

from anxin_audit.alerts.models import AuditAlert


def existing_keys(session: Session, keys: list[str]) -> set[str]:
    """Which dedupe keys already have an alert."""
    if not keys:
        return set()
    statement = select(AuditAlert.dedupe_key).where(col(AuditAlert.dedupe_key).in_(keys))
    return set(session.exec(statement).all())


def add_all(session: Session, alerts: list[AuditAlert]) -> None:
    """Store new alerts."""
    session.add_all(alerts)
    session.flush()


def created_since(session: Session, since: datetime) -> list[AuditAlert]:
    """Alerts raised since `since` (to rebuild the evaluator's memory after a restart)."""
    statement = select(AuditAlert).where(AuditAlert.created_at >= since)
    return list(session.exec(statement).all())


def due_for_escalation(
    session: Session, severities: tuple[str, ...], created_before: datetime
) -> list[AuditAlert]:
    """Open alerts of these severities nobody acknowledged in time."""
    statement = (
        select(AuditAlert)
        .where(AuditAlert.status == "open")
        .where(col(AuditAlert.severity).in_(severities))
        .where(AuditAlert.escalation_level == 0)
        .where(AuditAlert.created_at < created_before)
    )
    return list(session.exec(statement).all())


def get(session: Session, alert_id: str) -> AuditAlert | None:
    """One alert."""
    return session.get(AuditAlert, alert_id)


def search(
    session: Session,
    subsidiaries: list[str],
    *,
    include_unscoped: bool,
    status: str | None,
    severity: str | None,
    rule: str | None,
    actor: str | None,
    limit: int,
    offset: int,
) -> list[AuditAlert]:
    """Alerts in these subsidiaries, newest first."""
    scope: ColumnElement[bool] = col(AuditAlert.subsidiary).in_(subsidiaries)
    if include_unscoped:
        scope = scope | col(AuditAlert.subsidiary).is_(None)
    statement = select(AuditAlert).where(scope)
    if status is not None:
        statement = statement.where(AuditAlert.status == status)
    if severity is not None:
        statement = statement.where(AuditAlert.severity == severity)
    if rule is not None:
        statement = statement.where(AuditAlert.rule == rule)
    if actor is not None:
        statement = statement.where(AuditAlert.actor == actor)
    statement = statement.order_by(col(AuditAlert.created_at).desc(), col(AuditAlert.alert_id))
    return list(session.exec(statement.offset(offset).limit(limit)).all())


def save(session: Session, alert: AuditAlert) -> None:
    """Write an alert's new state."""
    session.add(alert)
    session.flush()
