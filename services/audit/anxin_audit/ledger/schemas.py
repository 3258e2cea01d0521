"""Ledger API schemas."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

Severity = Literal["low", "medium", "high", "critical"]
FindingStatus = Literal["open", "in_progress", "closed"]
EvidenceStatus = Literal["verified", "mismatch", "missing", "archived"]


def _as_utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes (stored in UTC); the API promises RFC 3339.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]
Name = Field(max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")


class InspectionCreate(BaseModel):
    """A new inspection (the inspector is the caller)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    scope: str = Field(min_length=1, max_length=1000)
    subsidiary: str = Field(max_length=32, pattern=r"^[a-z]+$")
    inspection_date: date


class EvidencePublic(BaseModel):
    """An audit event a finding rests on, and whether its hash still verifies."""

    seq: int
    event_id: str
    hash: str
    status: EvidenceStatus


class FindingCreate(BaseModel):
    """A new finding, pointing at the audit events it rests on."""

    model_config = ConfigDict(extra="forbid")

    summary: str = Field(min_length=1, max_length=1000)
    severity: Severity
    responsible_role: str = Name
    responsible_subsidiary: str = Field(max_length=32, pattern=r"^[a-z]+$")
    deadline: date
    evidence_event_ids: list[str] = Field(min_length=1, max_length=100)


class FindingUpdate(BaseModel):
    """Move a finding along (or its deadline, with a reason kept in the audit trail)."""

    model_config = ConfigDict(extra="forbid")

    status: FindingStatus | None = None
    deadline: date | None = None


class FindingPublic(BaseModel):
    """A finding, with its evidence checked against the chain when read."""

    finding_id: str
    inspection_id: str
    summary: str
    severity: str
    responsible_role: str
    responsible_subsidiary: str
    deadline: date
    status: str
    evidence: list[EvidencePublic]
    evidence_verified: bool
    created_by: str
    created_at: UtcDatetime
    updated_at: UtcDatetime
    closed_at: UtcDatetime | None


class InspectionPublic(BaseModel):
    """An inspection and its findings."""

    inspection_id: str
    title: str
    scope: str
    subsidiary: str
    inspection_date: date
    inspector: str
    created_at: UtcDatetime
    findings: list[FindingPublic]


class InspectionPage(BaseModel):
    """A page of inspections (without their findings)."""

    items: list[InspectionPublic]
    limit: int
    offset: int


class OverdueFinding(BaseModel):
    """One line of the overdue report for management."""

    finding_id: str
    inspection_id: str
    inspection_title: str
    summary: str
    severity: str
    responsible_role: str
    responsible_subsidiary: str
    deadline: date
    days_overdue: int
    status: str


class OverdueReport(BaseModel):
    """Findings past their deadline and not closed, as of a date."""

    as_of: date
    items: list[OverdueFinding]
