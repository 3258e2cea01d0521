"""Running the catalogue against the suite and assembling, signing and recording the report."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from anxin_cli.compliance.api import SECURITY_ADMIN, GatewayApi, evidence_ref
from anxin_cli.compliance.catalogue import Catalogue, Control
from anxin_cli.compliance.checks import (
    FAIL,
    NOT_EVIDENCED,
    PASS,
    CheckContext,
    CheckResult,
    run_check,
)
from anxin_shared.policy import PolicyEngine

FORMAT_VERSION = 1
Progress = Callable[[str], None]
RECORDING_NOTE = (
    "A signed audit checkpoint taken as security staff once every check had run pins the "
    "chain head (seq, hash) that all of this report's evidence sits under; the checkpoint "
    "request is itself an audit event (request_id below). After signing, the report's "
    "SHA-256 is attested on the chain as an event of its own (the attestation block)."
)


@dataclass(frozen=True)
class ReportOptions:
    """What to check, over which period."""

    since: datetime
    until: datetime | None = None
    only: frozenset[str] = frozenset()
    record: bool = True


def control_status(results: Iterable[CheckResult], extra_problem: str | None = None) -> str:
    """Fail on any failure; pass only when every check passed with evidence."""
    results = list(results)
    if extra_problem or any(r.status == FAIL for r in results):
        return FAIL
    if not results or any(r.status == NOT_EVIDENCED for r in results):
        return NOT_EVIDENCED
    if not any(r.evidence or r.checkpoints for r in results):
        return NOT_EVIDENCED
    return PASS


def _figure_problem(control: Control, figures: dict[str, Any]) -> str | None:
    """A figure that contradicts the control (an unmask without a reason)."""
    if "unmasks" in control.figures and "trail" in figures:
        missing = figures["trail"]["unmasks"]["without_reason"]
        if missing:
            return f"{len(missing)} unmask(s) in the period without a recorded reason"
    return None


def evaluate_controls(
    controls: Iterable[Control],
    ctx: CheckContext,
    progress: Progress = lambda _: None,
) -> list[tuple[Control, list[CheckResult]]]:
    """Run every check of every control (policy checks need no running suite)."""
    outcome = []
    for control in controls:
        results = []
        for check in control.checks:
            progress(f"{control.id}: {check.get('name', check['kind'])}")
            results.append(run_check(check, ctx))
        outcome.append((control, results))
    return outcome


def control_entry(
    control: Control, results: list[CheckResult], figures: dict[str, Any]
) -> dict[str, Any]:
    """One control as the report shows it."""
    problem = _figure_problem(control, figures)
    status = control_status(results, problem)
    return {
        "id": control.id,
        "title": control.title,
        "statement": control.statement,
        "requirements": {"article": list(control.article), "pipl": list(control.pipl)},
        "enforced_by": control.enforced_by,
        "status": status,
        "problem": problem,
        "checks": [r.as_dict() for r in results],
        "evidence": [ref for r in results for ref in r.evidence],
        "checkpoints": [cp for r in results for cp in r.checkpoints],
        "figures": list(control.figures),
    }


def record_in_trail(api: GatewayApi) -> dict[str, Any]:
    """Take a signed checkpoint now; cite it and its own audit event."""
    response = api.request("POST", "/api/v1/audit/checkpoints", SECURITY_ADMIN)
    if response.status_code != 201:
        return {"recorded": False, "problem": f"checkpoint answered {response.status_code}"}
    checkpoint = response.json()
    request_id = response.headers.get("x-request-id")
    events = api.wait_for_events(request_id=request_id) if request_id else []
    return {
        "recorded": True,
        "method": "audit_checkpoint",
        "checkpoint": checkpoint,
        "request_id": request_id,
        "events": [evidence_ref(record, api.base_url) for record in events],
        "note": RECORDING_NOTE,
    }


def attest_in_trail(api: GatewayApi, signed: dict[str, Any]) -> dict[str, Any]:
    """Put the signed report's SHA-256 on the audit chain; cite the event and its link."""
    signature = signed["signature"]
    response = api.request(
        "POST",
        "/api/v1/audit/attestations",
        SECURITY_ADMIN,
        json={
            "document_kind": "compliance_report",
            "document_sha256": signature["sha256"],
            "key_id": signature["key_id"],
        },
    )
    if response.status_code != 201:
        return {"recorded": False, "problem": f"attestation answered {response.status_code}"}
    request_id = response.headers.get("x-request-id")
    return {
        "recorded": True,
        **response.json(),
        "request_id": request_id,
        "link": f"{api.base_url}/api/v1/audit/events?request_id={request_id}",
    }


def find_attestation(api: GatewayApi, attestation: dict[str, Any]) -> str | None:
    """None when the trail holds the attestation event with the cited seq, hash and SHA-256."""
    found = api.events(request_id=attestation.get("request_id"))
    for record in found:
        event = record["event"]
        if event["event_id"] == attestation.get("event_id"):
            if (record["seq"], record["hash"]) != (attestation.get("seq"), attestation.get("hash")):
                return "the attestation event is not where the report says"
            if event.get("document_sha256") != attestation.get("document_sha256"):
                return "the attestation event names another document"
            return None
    return "the attestation event is not in the audit trail"


def build_report(
    catalogue: Catalogue,
    engine: PolicyEngine,
    api: GatewayApi,
    options: ReportOptions,
    collect_figures: Callable[[GatewayApi, datetime, datetime, set[str]], dict[str, Any]],
    progress: Progress = lambda _: None,
) -> dict[str, Any]:
    """Checks, figures and the trail record: the unsigned report."""
    started = datetime.now(UTC)
    live = api.readyz()
    ctx = CheckContext(api=api, engine=engine, live_policy_version=live.get("policy_version"))
    controls = [c for c in catalogue.controls if not options.only or c.id in options.only]
    evaluated = evaluate_controls(controls, ctx, progress)
    until = options.until or datetime.now(UTC)
    progress("figures from the audit trail")
    wanted = {name for control in controls for name in control.figures}
    figures = collect_figures(api, options.since, until, wanted)
    entries = [control_entry(c, results, figures) for c, results in evaluated]
    summary = {
        status: sum(e["status"] == status for e in entries)
        for status in (PASS, FAIL, NOT_EVIDENCED)
    }
    report: dict[str, Any] = {
        "report": "anxin-compliance",
        "format_version": FORMAT_VERSION,
        "generated_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "gateway": api.base_url,
        "period": figures["period"],
        "policy": {"evaluated_version": engine.version, "live_version": live.get("policy_version")},
        "catalogue": {"sha256": catalogue.source_sha256, "requirements": catalogue.requirements},
        "summary": summary,
        "controls": entries,
        "figures": figures,
    }
    if options.record:
        progress("recording the report in the audit trail")
        report["recorded_in_audit"] = record_in_trail(api)
    else:
        report["recorded_in_audit"] = {"recorded": False, "problem": "--no-record"}
    return report


def digest(data: bytes) -> str:
    """SHA-256 hex."""
    return hashlib.sha256(data).hexdigest()
