"""Data-quality API: screening runs, issues, enforcement, reports (no personal data)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

SUBSIDIARY = r"^(life|pc|bank)$"


class ScreeningStart(BaseModel):
    """Start a screening run over one subsidiary (or every one you govern)."""

    model_config = ConfigDict(extra="forbid")
    subsidiary: str | None = Field(default=None, pattern=SUBSIDIARY)
    batch_size: int = Field(default=100, ge=1, le=1000)
    # Stop after this many batches (the run pauses and can be resumed); None = to the end.
    max_batches: int | None = Field(default=None, ge=1, le=100_000)


class ScreeningResume(BaseModel):
    """Continue a paused or interrupted run from its cursor."""

    model_config = ConfigDict(extra="forbid")
    batch_size: int = Field(default=100, ge=1, le=1000)
    max_batches: int | None = Field(default=None, ge=1, le=100_000)


class ScreeningProgress(BaseModel):
    """Where a run is."""

    run_id: str
    scope: str
    status: str
    processed: int
    total: int
    percent: float
    issues_opened: int
    cursor: str
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class IssuePublic(BaseModel):
    """A data-quality issue: what, whose, by when, where it stands."""

    issue_id: str
    customer_id: str
    kind: str
    field: str
    detail: str
    subsidiary: str
    branch: str | None
    agent: str | None
    status: str
    opened_at: datetime
    deadline: datetime
    fixed_at: datetime | None
    overdue_at: datetime | None


class IssuePage(BaseModel):
    """A page of issues."""

    items: list[IssuePublic]
    limit: int
    offset: int


class EnforcementRequest(BaseModel):
    """Enforce past-deadline issues now (`as_of` moves the clock: dev environments only)."""

    model_config = ConfigDict(extra="forbid")
    as_of: datetime | None = None


class CommissionHoldPublic(BaseModel):
    """An agent's commission held because an issue went past its deadline."""

    hold_id: str
    agent: str
    issue_id: str
    customer_id: str
    subsidiary: str
    held_at: datetime
    released_at: datetime | None


class EnforcementResult(BaseModel):
    """What enforcement did."""

    as_of: datetime
    overdue_issues: list[str]
    suspended_customers: list[str]
    commission_holds: list[CommissionHoldPublic]


class TrendPoint(BaseModel):
    """One day of one subsidiary."""

    day: str
    opened: int
    fixed: int
    open: int
    overdue: int


class SubsidiaryReport(BaseModel):
    """Counts now, and the trend over the window."""

    open: int
    fixed: int
    overdue: int
    total: int
    trend: list[TrendPoint]


class QualityReport(BaseModel):
    """The data-quality report by subsidiary."""

    generated_at: datetime
    days: int
    subsidiaries: dict[str, SubsidiaryReport]
