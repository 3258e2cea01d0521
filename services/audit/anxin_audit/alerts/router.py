"""Alert routes for security staff: list, read, acknowledge, escalate."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from anxin_audit.alerts import service
from anxin_audit.alerts.schemas import AlertAction, AlertPage, AlertPublic
from anxin_audit.state import AuditStateDep
from anxin_shared.deps import PrincipalDep, RuntimeDep, SessionDep

router = APIRouter(prefix="/api/v1/audit/alerts", tags=["alerts"])
AlertId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


@router.get("", response_model=AlertPage)
def list_alerts(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    audit: AuditStateDep,
    status: Literal["open", "acknowledged", "escalated"] | None = None,
    severity: Literal["low", "medium", "high", "critical"] | None = None,
    rule: Annotated[str | None, Query(max_length=48, pattern=r"^[a-z_]+$")] = None,
    actor: Annotated[str | None, Query(max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> AlertPage:
    """Alerts in the caller's subsidiaries, newest first."""
    filters = {"status": status, "severity": severity, "rule": rule, "actor": actor}
    return service.list_alerts(runtime, audit, session, principal, filters, limit, offset)


@router.get("/{alert_id}", response_model=AlertPublic)
def read_alert(
    alert_id: AlertId,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    audit: AuditStateDep,
) -> AlertPublic:
    """One alert with its evidence event ids."""
    return service.get_alert(runtime, audit, session, principal, alert_id)


@router.post("/{alert_id}/acknowledge", response_model=AlertPublic)
def acknowledge_alert(
    alert_id: AlertId,
    body: AlertAction,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    audit: AuditStateDep,
) -> AlertPublic:
    """Acknowledge an alert."""
    return service.acknowledge(runtime, audit, session, principal, alert_id, body.note)


@router.post("/{alert_id}/escalate", response_model=AlertPublic)
def escalate_alert(
    alert_id: AlertId,
    body: AlertAction,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    audit: AuditStateDep,
) -> AlertPublic:
    """Escalate an alert one level."""
    return service.escalate(runtime, audit, session, principal, alert_id, body.note)
