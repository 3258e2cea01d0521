"""Ledger routes for internal auditors: inspections, findings, the overdue report."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from anxin_audit.ledger import service
from anxin_audit.ledger.schemas import (
    FindingCreate,
    FindingPublic,
    FindingUpdate,
    InspectionCreate,
    InspectionPage,
    InspectionPublic,
    OverdueReport,
)
from anxin_audit.state import AuditStateDep
from anxin_shared.deps import PrincipalDep, RuntimeDep, SessionDep

router = APIRouter(prefix="/api/v1/audit", tags=["ledger"])
EntryId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


@router.post("/inspections", response_model=InspectionPublic, status_code=201)
def create_inspection(
    body: InspectionCreate,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    audit: AuditStateDep,
) -> InspectionPublic:
    """Open an inspection (the caller is the inspector)."""
    return service.create_inspection(runtime, audit, session, principal, body)


@router.get("/inspections", response_model=InspectionPage)
def list_inspections(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    audit: AuditStateDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> InspectionPage:
    """Inspections in the caller's subsidiaries."""
    return service.list_inspections(runtime, audit, session, principal, limit, offset)


@router.get("/inspections/{inspection_id}", response_model=InspectionPublic)
def read_inspection(
    inspection_id: EntryId,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    audit: AuditStateDep,
) -> InspectionPublic:
    """An inspection with its findings, evidence verified."""
    return service.get_inspection(runtime, audit, session, principal, inspection_id)


@router.post("/inspections/{inspection_id}/findings", response_model=FindingPublic, status_code=201)
def add_finding(
    inspection_id: EntryId,
    body: FindingCreate,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    audit: AuditStateDep,
) -> FindingPublic:
    """Record a finding that rests on audit events."""
    return service.add_finding(runtime, audit, session, principal, inspection_id, body)


@router.get("/findings/{finding_id}", response_model=FindingPublic)
def read_finding(
    finding_id: EntryId,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    audit: AuditStateDep,
) -> FindingPublic:
    """A finding, its evidence hashes verified against the chain."""
    return service.get_finding(runtime, audit, session, principal, finding_id)


@router.patch("/findings/{finding_id}", response_model=FindingPublic)
def update_finding(
    finding_id: EntryId,
    body: FindingUpdate,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    audit: AuditStateDep,
) -> FindingPublic:
    """Move a finding's status or deadline."""
    return service.update_finding(runtime, audit, session, principal, finding_id, body)


@router.get(
    "/reports/overdue-findings",
    response_model=OverdueReport,
    responses={200: {"content": {"text/csv": {}}}},
)
def overdue_findings(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    audit: AuditStateDep,
    format: Literal["json", "csv"] = "json",
    as_of: date | None = None,
) -> OverdueReport | Response:
    """Findings past their deadline and not closed: the report for management."""
    report = service.overdue_report(runtime, audit, session, principal, as_of)
    if format == "csv":
        return Response(
            service.report_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": 'attachment; filename="overdue-findings.csv"'},
        )
    return report
