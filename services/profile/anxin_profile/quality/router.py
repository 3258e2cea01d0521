"""Data-quality routes: screening runs, issues, enforcement, commission holds, reports."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from anxin_profile.deps import ClockDep, SettingsDep
from anxin_profile.quality import jobs, repository, service
from anxin_profile.quality.schemas import (
    CommissionHoldPublic,
    EnforcementRequest,
    EnforcementResult,
    IssuePage,
    QualityReport,
    ScreeningProgress,
    ScreeningResume,
    ScreeningStart,
)
from anxin_profile.settings import ProfileSettings
from anxin_shared.deps import PrincipalDep, RuntimeDep, SessionDep
from anxin_shared.errors import ValidationFailed

router = APIRouter(prefix="/api/v1/quality", tags=["data quality"])
RunId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Subsidiary = Annotated[str | None, Query(pattern=r"^(life|pc|bank)$")]


def deadlines(settings: ProfileSettings) -> service.Deadlines:
    """The deadline rules from settings."""
    return service.Deadlines(
        settings.quality_deadline_days, settings.quality_deadline_days_invalid_id
    )


@router.post("/screenings", response_model=ScreeningProgress, status_code=201)
def start_screening(
    body: ScreeningStart,
    principal: PrincipalDep,
    runtime: RuntimeDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> ScreeningProgress:
    """Screen stored customers for data-quality problems (paused after `max_batches`)."""
    return jobs.start(
        runtime.database,
        runtime.policy,
        principal,
        body.subsidiary,
        body.batch_size,
        body.max_batches,
        clock.now,
        deadlines(settings),
    )


@router.get("/screenings/{run_id}", response_model=ScreeningProgress)
def read_screening(
    run_id: RunId, principal: PrincipalDep, runtime: RuntimeDep
) -> ScreeningProgress:
    """A run's progress."""
    return jobs.read(runtime.database, runtime.policy, principal, run_id)


@router.post("/screenings/{run_id}/resume", response_model=ScreeningProgress)
def resume_screening(
    run_id: RunId,
    body: ScreeningResume,
    principal: PrincipalDep,
    runtime: RuntimeDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> ScreeningProgress:
    """Continue a paused or interrupted run from where it stopped."""
    return jobs.resume(
        runtime.database,
        runtime.policy,
        principal,
        run_id,
        body.batch_size,
        body.max_batches,
        clock.now,
        deadlines(settings),
    )


@router.get("/issues", response_model=IssuePage)
def list_issues(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    subsidiary: Subsidiary = None,
    status: Annotated[str | None, Query(pattern=r"^(open|fixed|overdue)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> IssuePage:
    """Data-quality issues with their owners, deadlines and status."""
    scope = service.governed_subsidiaries(session, runtime.policy, principal, "read", subsidiary)
    items = repository.issues(session, scope, status, limit, offset)
    return IssuePage(items=[service.issue_public(i) for i in items], limit=limit, offset=offset)


@router.post("/enforcement", response_model=EnforcementResult)
def enforce(
    body: EnforcementRequest,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> EnforcementResult:
    """Suspend past-deadline records and hold commission now (`as_of`: dev only)."""
    now = clock.now()
    if body.as_of is not None:
        if not settings.is_dev:
            raise ValidationFailed("as_of is accepted in dev environments only")
        if body.as_of < now:
            raise ValidationFailed("as_of may not be in the past")
        now = body.as_of
    scope = service.governed_subsidiaries(session, runtime.policy, principal, "update", None)
    return service.enforce(session, scope, now, principal)


@router.get("/commission-holds", response_model=list[CommissionHoldPublic])
def commission_holds(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    subsidiary: Subsidiary = None,
) -> list[CommissionHoldPublic]:
    """Commissions held because a data-quality issue went past its deadline."""
    scope = service.governed_subsidiaries(session, runtime.policy, principal, "read", subsidiary)
    return [service.hold_public(hold) for hold in repository.holds(session, scope)]


@router.get("/reports", response_model=QualityReport)
def quality_report(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    clock: ClockDep,
    subsidiary: Subsidiary = None,
    days: Annotated[int, Query(ge=1, le=366)] = 14,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> QualityReport | Response:
    """Open, fixed, overdue and the daily trend by subsidiary, as JSON or CSV."""
    scope = service.governed_subsidiaries(session, runtime.policy, principal, "read", subsidiary)
    result = service.report(session, scope, clock.now(), days)
    if format == "csv":
        return Response(
            service.report_csv(result),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="data-quality.csv"'},
        )
    return result
