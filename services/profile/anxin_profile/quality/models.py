"""Data-quality screening runs, the issues they open, and commission holds."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class QualityRun(SQLModel, table=True):
    """One screening run: progress (a cursor over customer ids) so it can resume."""

    __tablename__ = "profile_quality_run"

    run_id: str = Field(primary_key=True, max_length=40)
    scope: str = Field(max_length=16)  # a subsidiary, or "all"
    status: str = Field(max_length=16)  # running | paused | completed
    cursor: str = Field(default="", max_length=32)
    processed: int = 0
    total: int = 0
    issues_opened: int = 0
    started_by: str = Field(max_length=128)
    started_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
    updated_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
    finished_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]


class QualityIssue(SQLModel, table=True):
    """A data-quality finding with who answers for it, a deadline and a status."""

    __tablename__ = "profile_quality_issue"

    issue_id: str = Field(primary_key=True, max_length=40)
    fingerprint: str = Field(max_length=128, unique=True)
    customer_id: str = Field(max_length=32, index=True)
    kind: str = Field(max_length=32)
    field: str = Field(max_length=32)
    detail: str = Field(max_length=200)
    subsidiary: str = Field(max_length=16, index=True)
    branch: str | None = Field(default=None, max_length=32)
    agent: str | None = Field(default=None, max_length=64)
    status: str = Field(max_length=16, index=True)  # open | fixed | overdue
    run_id: str = Field(max_length=40)
    opened_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
    deadline: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
    fixed_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
    overdue_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]


class CommissionHold(SQLModel, table=True):
    """An agent's commission held because a data-quality issue went past its deadline."""

    __tablename__ = "profile_commission_hold"

    hold_id: str = Field(primary_key=True, max_length=40)
    agent: str = Field(max_length=64, index=True)
    issue_id: str = Field(max_length=40, unique=True)
    customer_id: str = Field(max_length=32)
    subsidiary: str = Field(max_length=16)
    held_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
    released_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
