"""Alert API schemas."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class EvidenceRef(BaseModel):
    """An event an alert rests on."""

    seq: int
    event_id: str


class AlertPublic(BaseModel):
    """An alert as security staff see it."""

    alert_id: str
    rule: str
    severity: str
    actor: str | None
    subsidiary: str | None
    summary: str
    evidence: list[EvidenceRef]
    created_at: datetime
    status: str
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    escalation_level: int
    escalated_by: str | None
    escalated_at: datetime | None
    note: str | None


class AlertPage(BaseModel):
    """A page of alerts, newest first."""

    items: list[AlertPublic]
    limit: int
    offset: int


class AlertAction(BaseModel):
    """Acknowledge or escalate, with an optional note."""

    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=500)
