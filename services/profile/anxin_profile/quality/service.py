"""Data quality over stored records: findings, issues with owners and deadlines, enforcement.

A screening run walks the customers in id order, one batch per transaction, and
keeps its cursor, so progress is visible and an interrupted or paused run resumes
where it stopped. Findings become issues (one per fingerprint) with the
responsible subsidiary, branch and agent, and a deadline. Past the deadline the
business records (holdings, and the customer record) are suspended and the
responsible agent's commission is flagged as held. Nothing here stores or
returns a raw number: details name the rule, never the value.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from anxin_profile.access import audit
from anxin_profile.clock import as_utc
from anxin_profile.contacts import repository as contacts
from anxin_profile.customers import repository as customers
from anxin_profile.customers.models import Customer
from anxin_profile.customers.validation import id_number_problems
from anxin_profile.demo_data import SUBSIDIARIES, is_luhn_valid, is_valid_mobile
from anxin_profile.quality import repository
from anxin_profile.quality.models import CommissionHold, QualityIssue, QualityRun
from anxin_profile.quality.schemas import (
    CommissionHoldPublic,
    EnforcementResult,
    IssuePublic,
    QualityReport,
    ScreeningProgress,
    SubsidiaryReport,
    TrendPoint,
)
from anxin_shared.errors import Forbidden
from anxin_shared.policy import PolicyEngine
from anxin_shared.principal import Principal

RESOURCE = "customer.quality"
SYSTEM = Principal(subject="service:profile", kind="service", subsidiary="group")


@dataclass(frozen=True)
class Finding:
    """One problem of one record (no value, only the rule)."""

    kind: str
    field: str
    detail: str
    pair: str | None = None

    def fingerprint(self, customer_id: str) -> str:
        """Identifies the finding across runs."""
        return f"{self.kind}:{customer_id}:{self.field}:{self.pair or ''}"


@dataclass(frozen=True)
class Deadlines:
    """Days to fix an issue, by kind."""

    default_days: int = 14
    invalid_id_days: int = 7

    def for_kind(self, kind: str) -> timedelta:
        """The time allowed to fix an issue of this kind."""
        days = self.invalid_id_days if kind in ("invalid_id", "inconsistent_id") else None
        return timedelta(days=days or self.default_days)


def governed_subsidiaries(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    action: str,
    subsidiary: str | None,
) -> list[str]:
    """The subsidiaries this caller may take `action` on data quality in (each decision audited).

    With a subsidiary named, a denial is a 403; without, the caller gets every
    subsidiary policy allows (a 403 if none)."""
    wanted = [subsidiary] if subsidiary else list(SUBSIDIARIES)
    allowed: list[str] = []
    last_denial: str | None = None
    for domain in wanted:
        decision = policy.decide(principal.subject, domain, RESOURCE, action, "L0")
        if decision.allowed or subsidiary:
            audit(session, principal, decision, action, RESOURCE, None)
        if decision.allowed:
            allowed.append(domain)
        else:
            last_denial = decision.decision_id
    if not allowed:
        raise Forbidden("no data-quality access here", decision_id=last_denial or "-")
    return allowed


def findings(session: Session, customer: Customer) -> list[Finding]:
    """Every problem of one stored customer."""
    found: list[Finding] = []
    if customer.id_type == "resident_id":
        for problem in id_number_problems(customer.id_number, customer.birth_date, customer.gender):
            kind = "inconsistent_id" if problem.startswith("does not agree") else "invalid_id"
            found.append(Finding(kind, "id_number", f"resident ID {problem}"))
    if not is_valid_mobile(customer.mobile):
        found.append(Finding("invalid_mobile", "mobile", "mobile number format is wrong"))
    if customer.bank_account and not is_luhn_valid(customer.bank_account):
        found.append(Finding("invalid_bank_account", "bank_account", "card fails the Luhn check"))
    for other in customers.same_person(session, customer):
        if other.customer_id < customer.customer_id:
            found.append(
                Finding(
                    "duplicate_customer",
                    "customer_id",
                    f"same name, birth date and gender as {other.customer_id}",
                    pair=other.customer_id,
                )
            )
    points = contacts.for_customer(session, customer.customer_id)
    registered = [p for p in points if p.channel == "mobile" and p.registered]
    if not registered:
        found.append(Finding("missing_contact", "mobile", "no registered mobile contact point"))
    for point in registered:
        for twin in contacts.by_match_key(session, ("mobile",), point.match_key, True):
            if twin.customer_id == customer.customer_id:
                continue
            partner = customers.get_customer(session, twin.customer_id)
            related = (
                partner is not None
                and customer.household_id is not None
                and partner.household_id == customer.household_id
            )
            if not related:
                found.append(
                    Finding(
                        "shared_number",
                        "mobile",
                        f"registered mobile also registered to unrelated {twin.customer_id}",
                        pair=twin.customer_id,
                    )
                )
    return found


def progress(run: QualityRun) -> ScreeningProgress:
    """The public view of a run."""
    percent = 100.0 if run.total == 0 else round(100.0 * run.processed / run.total, 1)
    return ScreeningProgress(
        run_id=run.run_id,
        scope=run.scope,
        status=run.status,
        processed=run.processed,
        total=run.total,
        percent=min(percent, 100.0),
        issues_opened=run.issues_opened,
        cursor=run.cursor,
        started_at=run.started_at,
        updated_at=run.updated_at,
        finished_at=run.finished_at,
    )


def scope_subsidiaries(run: QualityRun) -> list[str]:
    """The subsidiaries a run covers."""
    return list(SUBSIDIARIES) if run.scope == "all" else run.scope.split(",")


def start_run(
    session: Session, principal: Principal, subsidiaries: list[str], now: datetime
) -> QualityRun:
    """Create a run over the given subsidiaries."""
    scope = "all" if sorted(subsidiaries) == sorted(SUBSIDIARIES) else ",".join(subsidiaries)
    run = QualityRun(
        run_id=uuid.uuid4().hex,
        scope=scope,
        status="running",
        total=customers.count_in(session, subsidiaries),
        started_by=principal.subject,
        started_at=now,
        updated_at=now,
    )
    session.add(run)
    session.flush()
    return run


def screen_batch(
    session: Session, run_id: str, batch_size: int, now: datetime, deadlines: Deadlines
) -> QualityRun:
    """Screen the next batch of a run and advance its cursor (one transaction)."""
    run = repository.get_run(session, run_id)
    if run is None:
        raise ValueError("no such run")
    batch = customers.customers_after(session, run.cursor, scope_subsidiaries(run), batch_size)
    if not batch:
        run.status, run.finished_at, run.updated_at = "completed", now, now
        session.add(run)
        session.flush()
        return run
    seen: set[str] = set()
    for customer in batch:
        if customer.record_status == "erased":
            continue
        for finding in findings(session, customer):
            fingerprint = finding.fingerprint(customer.customer_id)
            seen.add(fingerprint)
            issue = repository.issue_by_fingerprint(session, fingerprint)
            if issue is not None and issue.status != "fixed":
                continue
            if issue is None:
                issue = QualityIssue(
                    issue_id=uuid.uuid4().hex,
                    fingerprint=fingerprint,
                    customer_id=customer.customer_id,
                    kind=finding.kind,
                    field=finding.field,
                    detail=finding.detail,
                    subsidiary=customer.subsidiary,
                    branch=customer.branch,
                    agent=customer.servicing_agent,
                    status="open",
                    run_id=run.run_id,
                    opened_at=now,
                    deadline=now + deadlines.for_kind(finding.kind),
                )
            else:  # it came back after being fixed: reopen with a new deadline
                issue.status, issue.fixed_at, issue.run_id = "open", None, run.run_id
                issue.opened_at, issue.deadline = now, now + deadlines.for_kind(finding.kind)
            session.add(issue)
            run.issues_opened += 1
    for issue in repository.unresolved_for(session, [c.customer_id for c in batch]):
        if issue.fingerprint not in seen:
            issue.status, issue.fixed_at = "fixed", now
            session.add(issue)
    run.cursor = batch[-1].customer_id
    run.processed += len(batch)
    run.status, run.updated_at = "running", now
    session.add(run)
    session.flush()
    return run


def pause(session: Session, run_id: str, now: datetime) -> QualityRun:
    """Mark a run that stopped with work left as paused."""
    run = repository.get_run(session, run_id)
    if run is None:
        raise ValueError("no such run")
    if run.status == "running":
        run.status, run.updated_at = "paused", now
        session.add(run)
        session.flush()
    return run


def issue_public(issue: QualityIssue) -> IssuePublic:
    """The public view of an issue (no personal data)."""
    return IssuePublic.model_validate(issue, from_attributes=True)


def enforce(
    session: Session, subsidiaries: list[str], now: datetime, actor: Principal = SYSTEM
) -> EnforcementResult:
    """Past-deadline issues: mark overdue, suspend the business records, hold commission."""
    overdue: list[str] = []
    suspended: list[str] = []
    new_holds: list[CommissionHold] = []
    for issue in repository.past_deadline(session, now, subsidiaries):
        issue.status, issue.overdue_at = "overdue", now
        session.add(issue)
        overdue.append(issue.issue_id)
        customer = customers.get_customer(session, issue.customer_id)
        if customer is not None and customer.record_status == "active":
            customer.record_status = "suspended"
            customer.status_reason = f"data-quality issue {issue.issue_id} past its deadline"
            session.add(customer)
            suspended.append(customer.customer_id)
        for holding in customers.holdings_for(session, issue.customer_id):
            if holding.status == "active":
                holding.status = "suspended"
                holding.status_reason = f"data-quality issue {issue.issue_id} past its deadline"
                session.add(holding)
        if issue.agent and repository.hold_for_issue(session, issue.issue_id) is None:
            hold = CommissionHold(
                hold_id=uuid.uuid4().hex,
                agent=issue.agent,
                issue_id=issue.issue_id,
                customer_id=issue.customer_id,
                subsidiary=issue.subsidiary,
                held_at=now,
            )
            session.add(hold)
            new_holds.append(hold)
        audit(
            session,
            actor,
            None,
            "suspend",
            RESOURCE,
            issue.customer_id,
            allowed=True,
        )
    session.flush()
    return EnforcementResult(
        as_of=now,
        overdue_issues=overdue,
        suspended_customers=sorted(set(suspended)),
        commission_holds=[hold_public(hold) for hold in new_holds],
    )


def hold_public(hold: CommissionHold) -> CommissionHoldPublic:
    """The public view of a commission hold."""
    return CommissionHoldPublic.model_validate(hold, from_attributes=True)


def report(session: Session, subsidiaries: list[str], now: datetime, days: int) -> QualityReport:
    """Open, fixed and overdue by subsidiary now, and the daily trend over `days` days."""
    result: dict[str, SubsidiaryReport] = {}
    items = repository.all_issues(session, subsidiaries)
    today = now.date()
    for subsidiary in subsidiaries:
        mine = [issue for issue in items if issue.subsidiary == subsidiary]
        trend = []
        for offset in range(days - 1, -1, -1):
            day = today - timedelta(days=offset)
            end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=now.tzinfo)
            start = end - timedelta(days=1)
            opened = sum(1 for i in mine if start <= as_utc(i.opened_at) < end)
            fixed = sum(1 for i in mine if i.fixed_at and start <= as_utc(i.fixed_at) < end)
            unresolved = [
                i
                for i in mine
                if as_utc(i.opened_at) < end and (i.fixed_at is None or as_utc(i.fixed_at) >= end)
            ]
            late = sum(1 for i in unresolved if i.overdue_at and as_utc(i.overdue_at) < end)
            trend.append(
                TrendPoint(
                    day=day.isoformat(),
                    opened=opened,
                    fixed=fixed,
                    open=len(unresolved) - late,
                    overdue=late,
                )
            )
        result[subsidiary] = SubsidiaryReport(
            open=sum(1 for i in mine if i.status == "open"),
            fixed=sum(1 for i in mine if i.status == "fixed"),
            overdue=sum(1 for i in mine if i.status == "overdue"),
            total=len(mine),
            trend=trend,
        )
    return QualityReport(generated_at=now, days=days, subsidiaries=result)


def report_csv(report_: QualityReport) -> str:
    """The report as CSV: one row per subsidiary and day, then one summary row each."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["subsidiary", "day", "opened", "fixed", "open", "overdue"])
    for subsidiary, data in report_.subsidiaries.items():
        for point in data.trend:
            writer.writerow(
                [subsidiary, point.day, point.opened, point.fixed, point.open, point.overdue]
            )
    writer.writerow([])
    writer.writerow(["subsidiary", "total", "open", "fixed", "overdue"])
    for subsidiary, data in report_.subsidiaries.items():
        writer.writerow([subsidiary, data.total, data.open, data.fixed, data.overdue])
    return out.getvalue()
