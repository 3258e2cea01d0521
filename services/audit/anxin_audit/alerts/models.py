"""Anomaly alerts raised from the audit trail."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

TZ = sa.DateTime(timezone=True)


class AuditAlert(SQLModel, table=True):
    """One alert: the rule, its severity, the evidence, and who worked it."""

    __tablename__ = "audit_alert"

    alert_id: str = Field(primary_key=True, max_length=32)
    dedupe_key: str = Field(max_length=200, unique=True)
    rule: str = Field(max_length=48, index=True)
    severity: str = Field(max_length=16)
    actor: str | None = Field(default=None, max_length=128, index=True)
    subsidiary: str | None = Field(default=None, max_length=32, index=True)
    summary: str = Field(max_length=500)
    evidence: str  # JSON list of {"seq", "event_id"}
    first_seq: int
    last_seq: int
    created_at: datetime = Field(sa_type=TZ, index=True)  # type: ignore[call-overload]
    status: str = Field(max_length=16, index=True)  # open | acknowledged | escalated
    acknowledged_by: str | None = Field(default=None, max_length=128)
    acknowledged_at: datetime | None = Field(default=None, sa_type=TZ)  # type: ignore[call-overload]
    escalation_level: int = 0
    escalated_by: str | None = Field(default=None, max_length=128)
    escalated_at: datetime | None = Field(default=None, sa_type=TZ)  # type: ignore[call-overload]
    note: str | None = Field(default=None, max_length=500)
