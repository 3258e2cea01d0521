"""Alert API schemas."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator


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

    @field_validator("created_at", "acknowledged_at", "escalated_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        # SQLite hands back naive datetimes (stored in UTC); the API promises RFC 3339.
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class AlertPage(BaseModel):
    """A page of alerts, newest first."""

    items: list[AlertPublic]
    limit: int
    offset: int


class AlertAction(BaseModel):
    """Acknowledge or escalate, with an optional note."""

    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=500)
