"""The inspection ledger: inspections, findings tied to audit evidence, the overdue report.

A finding stores each evidence event's sequence number, event id and hash
when it is recorded; every read re-checks them against the chain (the stored
hash, a fresh recomputation, and the next record's link), so a finding can
never silently point at evidence that changed.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, date, datetime

from sqlmodel import Session

from anxin_audit.events import repository as records
from anxin_audit.events.chain import record_hash
from anxin_audit.events.service import authorize, readable_domains
from anxin_audit.ledger import repository
from anxin_audit.ledger.models import AuditFinding, AuditInspection
from anxin_audit.ledger.schemas import (
    EvidencePublic,
    EvidenceStatus,
    FindingCreate,
    FindingPublic,
    FindingUpdate,
    InspectionCreate,
    InspectionPage,
    InspectionPublic,
    OverdueFinding,
    OverdueReport,
)
from anxin_audit.retention import repository as archives
from anxin_audit.state import AuditState
from anxin_shared.app import ServiceRuntime
from anxin_shared.errors import Forbidden, ValidationFailed
from anxin_shared.principal import Principal

RESOURCE = "audit.ledger"
NO_ACCESS = "no access to this ledger entry"
OVERDUE_COLUMNS = list(OverdueFinding.model_fields)


def _catalogued(runtime: ServiceRuntime, kind: str, name: str) -> None:
    names = runtime.policy.state.catalogue.get(kind) or {}
    if name not in names:
        raise ValidationFailed(
            f"{name!r} is not a catalogued {kind[:-1] if kind != 'subsidiaries' else 'subsidiary'}"
        )


def _domains(runtime: ServiceRuntime, principal: Principal) -> list[str]:
    subsidiaries = list((runtime.policy.state.catalogue.get("subsidiaries") or {}).keys())
    return [
        domain
        for domain in subsidiaries
        if runtime.policy.decide(
            principal.subject, domain, RESOURCE, "read", principal.assurance_level
        ).allowed
    ]


def check_evidence(session: Session, evidence: list[dict[str, object]]) -> list[EvidencePublic]:
    """Re-check each evidence item against the chain as it is now."""
    archive = archives.latest(session)
    checked = []
    for item in evidence:
        seq, event_id, carried = int(str(item["seq"])), str(item["event_id"]), str(item["hash"])
        record = records.record_at(session, seq)
        status: EvidenceStatus = "verified"
        if record is None:
            status = "archived" if archive and seq <= archive.through_seq else "missing"
        elif (
            record.event_id != event_id
            or record.hash != carried
            or record_hash(record.seq, record.prev_hash, record.body) != carried
        ):
            status = "mismatch"
        else:
            following = records.record_at(session, seq + 1)
            if following is not None and following.prev_hash != carried:
                status = "mismatch"
        checked.append(EvidencePublic(seq=seq, event_id=event_id, hash=carried, status=status))
    return checked


def finding_public(session: Session, finding: AuditFinding) -> FindingPublic:
    """The API view of a finding, its evidence verified now."""
    evidence = check_evidence(session, json.loads(finding.evidence))
    return FindingPublic(
        finding_id=finding.finding_id,
        inspection_id=finding.inspection_id,
        summary=finding.summary,
        severity=finding.severity,
        responsible_role=finding.responsible_role,
        responsible_subsidiary=finding.responsible_subsidiary,
        deadline=finding.deadline,
        status=finding.status,
        evidence=evidence,
        evidence_verified=all(item.status == "verified" for item in evidence),
        created_by=finding.created_by,
        created_at=finding.created_at,
        updated_at=finding.updated_at,
        closed_at=finding.closed_at,
    )


def _inspection_public(
    session: Session, inspection: AuditInspection, with_findings: bool
) -> InspectionPublic:
    findings = repository.findings_of(session, inspection.inspection_id) if with_findings else []
    return InspectionPublic(
        inspection_id=inspection.inspection_id,
        title=inspection.title,
        scope=inspection.scope,
        subsidiary=inspection.subsidiary,
        inspection_date=inspection.inspection_date,
        inspector=inspection.inspector,
        created_at=inspection.created_at,
        findings=[finding_public(session, finding) for finding in findings],
    )


def create_inspection(
    runtime: ServiceRuntime,
    audit: AuditState,
    session: Session,
    principal: Principal,
    body: InspectionCreate,
) -> InspectionPublic:
    """Open an inspection in a subsidiary the caller may audit."""
    _catalogued(runtime, "subsidiaries", body.subsidiary)
    authorize(runtime, audit, principal, RESOURCE, "create", body.subsidiary)
    inspection = AuditInspection(
        inspection_id=uuid.uuid4().hex,
        title=body.title,
        scope=body.scope,
        subsidiary=body.subsidiary,
        inspection_date=body.inspection_date,
        inspector=principal.subject,
        created_at=datetime.now(UTC),
    )
    repository.add(session, inspection)
    return _inspection_public(session, inspection, with_findings=False)


def _inspection(
    runtime: ServiceRuntime,
    audit: AuditState,
    session: Session,
    principal: Principal,
    inspection_id: str,
    action: str,
) -> AuditInspection:
    inspection = repository.inspection(session, inspection_id)
    decision = authorize(
        runtime, audit, principal, RESOURCE, action, inspection.subsidiary if inspection else "-"
    )
    if inspection is None:
        raise Forbidden(NO_ACCESS, decision_id=decision.decision_id)
    return inspection


def get_inspection(
    runtime: ServiceRuntime,
    audit: AuditState,
    session: Session,
    principal: Principal,
    inspection_id: str,
) -> InspectionPublic:
    """An inspection with its findings (evidence verified)."""
    inspection = _inspection(runtime, audit, session, principal, inspection_id, "read")
    return _inspection_public(session, inspection, with_findings=True)


def list_inspections(
    runtime: ServiceRuntime,
    audit: AuditState,
    session: Session,
    principal: Principal,
    limit: int,
    offset: int,
) -> InspectionPage:
    """Inspections in the caller's subsidiaries, newest first."""
    authorize(runtime, audit, principal, RESOURCE, "read")
    domains = _domains(runtime, principal)
    items = repository.inspections(session, domains, limit, offset)
    return InspectionPage(
        items=[_inspection_public(session, item, with_findings=False) for item in items],
        limit=limit,
        offset=offset,
    )


def add_finding(
    runtime: ServiceRuntime,
    audit: AuditState,
    session: Session,
    principal: Principal,
    inspection_id: str,
    body: FindingCreate,
) -> FindingPublic:
    """Record a finding resting on audit events; their hashes are copied into it."""
    inspection = _inspection(runtime, audit, session, principal, inspection_id, "create")
    _catalogued(runtime, "roles", body.responsible_role)
    _catalogued(runtime, "subsidiaries", body.responsible_subsidiary)
    wanted = list(dict.fromkeys(body.evidence_event_ids))
    found = {record.event_id: record for record in records.records_by_event_ids(session, wanted)}
    visible = set(readable_domains(runtime.policy, principal))
    missing = [
        event_id
        for event_id in wanted
        if event_id not in found
        or (found[event_id].domain is not None and found[event_id].domain not in visible)
    ]
    if missing:
        raise ValidationFailed(f"{len(missing)} evidence event(s) are not in the audit trail")
    evidence = [
        {"seq": found[event_id].seq, "event_id": event_id, "hash": found[event_id].hash}
        for event_id in wanted
    ]
    now = datetime.now(UTC)
    finding = AuditFinding(
        finding_id=uuid.uuid4().hex,
        inspection_id=inspection.inspection_id,
        summary=body.summary,
        severity=body.severity,
        responsible_role=body.responsible_role,
        responsible_subsidiary=body.responsible_subsidiary,
        deadline=body.deadline,
        status="open",
        evidence=json.dumps(evidence),
        created_by=principal.subject,
        created_at=now,
        updated_at=now,
    )
    repository.add(session, finding)
    return finding_public(session, finding)


def _finding(
    runtime: ServiceRuntime,
    audit: AuditState,
    session: Session,
    principal: Principal,
    finding_id: str,
    action: str,
) -> AuditFinding:
    finding = repository.finding(session, finding_id)
    domain = finding.responsible_subsidiary if finding else "-"
    decision = authorize(runtime, audit, principal, RESOURCE, action, domain)
    if finding is None:
        raise Forbidden(NO_ACCESS, decision_id=decision.decision_id)
    return finding


def get_finding(
    runtime: ServiceRuntime,
    audit: AuditState,
    session: Session,
    principal: Principal,
    finding_id: str,
) -> FindingPublic:
    """One finding, its evidence hashes verified against the chain."""
    return finding_public(session, _finding(runtime, audit, session, principal, finding_id, "read"))


def update_finding(
    runtime: ServiceRuntime,
    audit: AuditState,
    session: Session,
    principal: Principal,
    finding_id: str,
    body: FindingUpdate,
) -> FindingPublic:
    """Move a finding's status or deadline."""
    finding = _finding(runtime, audit, session, principal, finding_id, "update")
    now = datetime.now(UTC)
    if body.status is not None:
        finding.status = body.status
        finding.closed_at = now if body.status == "closed" else None
    if body.deadline is not None:
        finding.deadline = body.deadline
    finding.updated_at = now
    repository.add(session, finding)
    return finding_public(session, finding)


def overdue_report(
    runtime: ServiceRuntime,
    audit: AuditState,
    session: Session,
    principal: Principal,
    as_of: date | None = None,
) -> OverdueReport:
    """Findings past their deadline and not closed, in the caller's subsidiaries."""
    authorize(runtime, audit, principal, RESOURCE, "read")
    today = as_of or datetime.now(UTC).date()
    items = [
        OverdueFinding(
            finding_id=finding.finding_id,
            inspection_id=inspection.inspection_id,
            inspection_title=inspection.title,
            summary=finding.summary,
            severity=finding.severity,
            responsible_role=finding.responsible_role,
            responsible_subsidiary=finding.responsible_subsidiary,
            deadline=finding.deadline,
            days_overdue=(today - finding.deadline).days,
            status=finding.status,
        )
        for finding, inspection in repository.overdue(session, _domains(runtime, principal), today)
    ]
    return OverdueReport(as_of=today, items=items)


def report_csv(report: OverdueReport) -> str:
    """The overdue report as CSV (UTF-8 with BOM, so spreadsheet tools read the Chinese)."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.DictWriter(buffer, fieldnames=OVERDUE_COLUMNS)
    writer.writeheader()
    for item in report.items:
        row = item.model_dump(mode="json")
        # A cell starting with = + - @ would be a formula in a spreadsheet.
        writer.writerow(
            {k: f"'{v}" if isinstance(v, str) and v[:1] in "=+-@" else v for k, v in row.items()}
        )
    return buffer.getvalue()
