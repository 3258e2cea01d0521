"""Working alerts: list, acknowledge, escalate (security staff, within their subsidiaries)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlmodel import Session

from anxin_audit.alerts import repository
from anxin_audit.alerts.models import AuditAlert
from anxin_audit.alerts.schemas import AlertPage, AlertPublic, EvidenceRef
from anxin_audit.events.service import authorize
from anxin_audit.state import AuditState
from anxin_shared.app import ServiceRuntime
from anxin_shared.errors import Conflict, Forbidden
from anxin_shared.principal import Principal

RESOURCE = "audit.alert"
NO_ACCESS = "no access to this alert"


def public(alert: AuditAlert) -> AlertPublic:
    """The API view of an alert."""
    return AlertPublic(
        alert_id=alert.alert_id,
        rule=alert.rule,
        severity=alert.severity,
        actor=alert.actor,
        subsidiary=alert.subsidiary,
        summary=alert.summary,
        evidence=[EvidenceRef(**item) for item in json.loads(alert.evidence)],
        created_at=alert.created_at,
        status=alert.status,
        acknowledged_by=alert.acknowledged_by,
        acknowledged_at=alert.acknowledged_at,
        escalation_level=alert.escalation_level,
        escalated_by=alert.escalated_by,
        escalated_at=alert.escalated_at,
        note=alert.note,
    )


def _domains(runtime: ServiceRuntime, principal: Principal, action: str) -> list[str]:
    subsidiaries = list((runtime.policy.state.catalogue.get("subsidiaries") or {}).keys())
    return [
        domain
        for domain in subsidiaries
        if runtime.policy.decide(
            principal.subject, domain, RESOURCE, action, principal.assurance_level
        ).allowed
    ]


def list_alerts(
    runtime: ServiceRuntime,
    audit: AuditState,
    session: Session,
    principal: Principal,
    filters: dict[str, str | None],
    limit: int,
    offset: int,
) -> AlertPage:
    """Alerts in the subsidiaries the caller may work, newest first."""
    authorize(runtime, audit, principal, RESOURCE, "read")
    domains = _domains(runtime, principal, "read")
    alerts = repository.search(
        session,
        domains,
        include_unscoped="group" in domains,
        limit=limit,
        offset=offset,
        **filters,
    )
    return AlertPage(items=[public(alert) for alert in alerts], limit=limit, offset=offset)


def _load(
    runtime: ServiceRuntime,
    audit: AuditState,
    session: Session,
    principal: Principal,
    alert_id: str,
    action: str,
) -> AuditAlert:
    alert = repository.get(session, alert_id)
    domain = (alert.subsidiary or "group") if alert else "-"
    decision = authorize(runtime, audit, principal, RESOURCE, action, domain)
    if alert is None:
        raise Forbidden(NO_ACCESS, decision_id=decision.decision_id)
    return alert


def get_alert(
    runtime: ServiceRuntime,
    audit: AuditState,
    session: Session,
    principal: Principal,
    alert_id: str,
) -> AlertPublic:
    """One alert (the same 403 for another subsidiary's and for a missing one)."""
    return public(_load(runtime, audit, session, principal, alert_id, "read"))


def acknowledge(
    runtime: ServiceRuntime,
    audit: AuditState,
    session: Session,
    principal: Principal,
    alert_id: str,
    note: str | None,
) -> AlertPublic:
    """Acknowledge an alert: someone owns it now."""
    alert = _load(runtime, audit, session, principal, alert_id, "update")
    if alert.acknowledged_at is not None:
        raise Conflict("the alert is already acknowledged")
    alert.acknowledged_by = principal.subject
    alert.acknowledged_at = datetime.now(UTC)
    if alert.status == "open":
        alert.status = "acknowledged"
    if note:
        alert.note = note
    repository.save(session, alert)
    return public(alert)


def escalate(
    runtime: ServiceRuntime,
    audit: AuditState,
    session: Session,
    principal: Principal,
    alert_id: str,
    note: str | None,
) -> AlertPublic:
    """Escalate an alert one level (to management, to the regulator's contact)."""
    alert = _load(runtime, audit, session, principal, alert_id, "update")
    if alert.escalation_level >= 3:
        raise Conflict("the alert is at the highest escalation level")
    alert.escalation_level += 1
    alert.status = "escalated"
    alert.escalated_by = principal.subject
    alert.escalated_at = datetime.now(UTC)
    if note:
        alert.note = note
    repository.save(session, alert)
    return public(alert)
