"""The internal-audit ledger (检查台账): inspections and their findings."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

TZ = sa.DateTime(timezone=True)


class AuditInspection(SQLModel, table=True):
    """One inspection: what was examined, where, when and by whom."""

    __tablename__ = "audit_inspection"

    inspection_id: str = Field(primary_key=True, max_length=32)
    title: str = Field(max_length=200)
    scope: str = Field(max_length=1000)
    subsidiary: str = Field(max_length=32, index=True)
    inspection_date: date
    inspector: str = Field(max_length=128)
    created_at: datetime = Field(sa_type=TZ)  # type: ignore[call-overload]


class AuditFinding(SQLModel, table=True):
    """A finding: resting on audit events (with their hashes), owned by a role, due by a date."""

    __tablename__ = "audit_finding"

    finding_id: str = Field(primary_key=True, max_length=32)
    inspection_id: str = Field(foreign_key="audit_inspection.inspection_id", max_length=32)
    summary: str = Field(max_length=1000)
    severity: str = Field(max_length=16)
    responsible_role: str = Field(max_length=64)
    responsible_subsidiary: str = Field(max_length=32, index=True)
    deadline: date = Field(index=True)
    status: str = Field(max_length=16, index=True)  # open | in_progress | closed
    evidence: str  # JSON list of {"seq", "event_id", "hash"}
    created_by: str = Field(max_length=128)
    created_at: datetime = Field(sa_type=TZ)  # type: ignore[call-overload]
    updated_at: datetime = Field(sa_type=TZ)  # type: ignore[call-overload]
    closed_at: datetime | None = Field(default=None, sa_type=TZ)  # type: ignore[call-overload]
