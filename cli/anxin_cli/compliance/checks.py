"""The live checks a control names in the catalogue.

Each check answers `pass`, `fail` or `not_evidenced`, with the audit records
(seq, hash, event id, decision id) it rests on. A check that saw the right
behaviour but could not find it in the audit trail is `not_evidenced`.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import yaml

from anxin_cli.compliance.api import AUDITOR, SECURITY_ADMIN, GatewayApi, evidence_ref
from anxin_shared.policy import PolicyEngine

PASS, FAIL, NOT_EVIDENCED = "pass", "fail", "not_evidenced"
CONSENT_RECORDER, CONSENT_RECIPIENT = "life-claims-system", "bank-crm-system"
CONSENT_CUSTOMER = "C000002"


@dataclass
class CheckResult:
    """The outcome of one check."""

    kind: str
    name: str
    status: str
    detail: str
    evidence: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "kind": self.kind,
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
            "evidence": self.evidence,
            "checkpoints": self.checkpoints,
        }


@dataclass
class CheckContext:
    """What checks share: the API, the local policy and the live policy version."""

    api: GatewayApi | None
    engine: PolicyEngine
    live_policy_version: str | None
    memo: dict[str, Any] = field(default_factory=dict)


def _request_id(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        body = {}
    rid = (body.get("request_id") if isinstance(body, dict) else None) or response.headers.get(
        "x-request-id"
    )
    return str(rid) if rid else None


def _audited(ctx: CheckContext, response: httpx.Response) -> list[dict[str, Any]]:
    """The audit records of a probe's request, looked up in the trail."""
    assert ctx.api is not None
    rid = _request_id(response)
    if rid is None:
        return []
    return [evidence_ref(r, ctx.api.base_url) for r in ctx.api.wait_for_events(request_id=rid)]


def _result(check: dict[str, Any], status: str, detail: str, **kw: Any) -> CheckResult:
    return CheckResult(check["kind"], str(check.get("name", check["kind"])), status, detail, **kw)


def check_agreements(check: dict[str, Any], ctx: CheckContext) -> CheckResult:
    """Every subject in an agreement role has one in force, and is refused once it lapses."""
    state = ctx.engine.state
    windows = state.agreement_windows()
    if not windows:
        return _result(check, NOT_EVIDENCED, "no subject holds an agreement role")
    now = datetime.now(UTC)
    evidence: list[dict[str, Any]] = []
    problems: list[str] = []
    for subject, window in sorted(windows.items()):
        home = state.home_subsidiary(subject) or "-"
        request = (home, check["resource"], check["action"], check.get("level", "L0"))
        if window is None or not window.holds_at(now):
            problems.append(f"{subject} has no agreement in force")
            continue
        assert isinstance(window.valid_until, date)
        lapsed = datetime.combine(window.valid_until, datetime.min.time(), UTC) + timedelta(days=1)
        after = ctx.engine.decide(subject, *request, now=lapsed)
        evidence.append(
            {
                "policy_version": after.policy_version,
                "subject": subject,
                "agreement": f"{window.valid_from} to {window.valid_until}",
                "decision_after_lapse": "allow" if after.allowed else "deny",
                "failed_fact": after.failed_fact,
            }
        )
        if after.allowed or after.failed_fact != "agreement":
            problems.append(f"{subject} is still allowed after the agreement lapses")
    if problems:
        return _result(check, FAIL, "; ".join(problems), evidence=evidence)
    if ctx.live_policy_version != state.version:
        return _result(
            check,
            NOT_EVIDENCED,
            f"the policy evaluated ({state.version}) is not the one in force "
            f"({ctx.live_policy_version})",
            evidence=evidence,
        )
    return _result(
        check,
        PASS,
        f"{len(evidence)} subject(s) under agreements in force; each refused once it lapses",
        evidence=evidence,
    )


def check_policy(check: dict[str, Any], ctx: CheckContext) -> CheckResult:
    """Decide the request with the policy under review; compare with the policy in force."""
    decision = ctx.engine.decide(
        check["subject"],
        check["subsidiary"],
        check["resource"],
        check["action"],
        check.get("level", "L0"),
        facts=check.get("facts"),
    )
    got = "allow" if decision.allowed else "deny"
    evidence = [
        {
            "policy_version": decision.policy_version,
            "matched_rule": decision.matched_rule,
            "decision": got,
            "request": f"{check['subject']} {check['subsidiary']} {check['resource']} "
            f"{check['action']} {check.get('level', 'L0')}",
        }
    ]
    if got != check["expect"]:
        return _result(
            check,
            FAIL,
            f"policy {decision.policy_version} answers {got}, the control needs "
            f"{check['expect']} (rule: {decision.matched_rule or 'none'})",
            evidence=evidence,
        )
    if ctx.live_policy_version != decision.policy_version:
        return _result(
            check,
            NOT_EVIDENCED,
            f"the policy evaluated ({decision.policy_version}) is not the one in force "
            f"({ctx.live_policy_version})",
            evidence=evidence,
        )
    return _result(
        check, PASS, f"{got} by the policy in force ({decision.policy_version})", evidence=evidence
    )


def check_probe(check: dict[str, Any], ctx: CheckContext) -> CheckResult:
    """A request that must be refused, and its denial found in the audit trail."""
    assert ctx.api is not None
    expected = check["expect_status"]
    expected = set(expected) if isinstance(expected, list) else {expected}
    response = ctx.api.request(
        check["method"], check["path"], check["subject"], json=check.get("json")
    )
    if response.status_code not in expected:
        return _result(
            check,
            FAIL,
            f"{check['method']} {check['path']} as {check['subject']} answered "
            f"{response.status_code}, expected {sorted(expected)}",
            evidence=_audited(ctx, response),
        )
    evidence = _audited(ctx, response)
    denied = [ref for ref in evidence if ref["allowed"] is False]
    if response.status_code == 403 and not denied:
        return _result(
            check,
            NOT_EVIDENCED,
            f"refused with {response.status_code}, but no denied decision is in the audit trail",
            evidence=evidence,
        )
    if not evidence:
        return _result(
            check, NOT_EVIDENCED, f"answered {response.status_code}; nothing in the audit trail"
        )
    return _result(
        check,
        PASS,
        f"{check['method']} {check['path']} as {check['subject']}: {response.status_code}, "
        f"{len(denied)} denied decision(s) audited",
        evidence=evidence,
    )


DIGIT_RUN = re.compile(r"\d{6,}")


def _field_masks(engine: PolicyEngine) -> dict[str, str]:
    """Field name -> mask rule, from the data dictionary the policy folder holds."""
    try:
        data = yaml.safe_load((engine.policies_dir / "fields.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    fields = (data or {}).get("fields") or {}
    return {
        name.split(".", 1)[1]: str(spec.get("mask"))
        for name, spec in fields.items()
        if name.startswith("customer.") and isinstance(spec, dict)
    }


def _masked_ok(value: Any, view: str, mask: str | None) -> bool:
    """Hidden means absent; masked means starred, and free text keeps no number."""
    if view == "hidden":
        return value is None
    if view == "masked" and value is not None:
        if mask == "free_text":
            return not DIGIT_RUN.search(str(value))
        return "*" in str(value) and not DIGIT_RUN.search(str(value))
    return True


def check_masked_listing(check: dict[str, Any], ctx: CheckContext) -> CheckResult:
    """A listing without a verified call: every masked/hidden field must be masked/hidden."""
    assert ctx.api is not None
    response = ctx.api.request("GET", "/api/v1/customers", check["subject"], params={"limit": 5})
    if response.status_code != 200:
        return _result(check, FAIL, f"the listing answered {response.status_code}")
    items = response.json().get("items") or []
    problems, masked = [], 0
    masks = _field_masks(ctx.engine)
    for item in items:
        views = item.get("field_views") or {}
        for name, view in views.items():
            if view in ("masked", "hidden"):
                masked += 1
                if not _masked_ok(item.get(name), view, masks.get(name)):
                    problems.append(f"{item.get('customer_id')}.{name} is {view} but shown")
        if views.get("mobile") == "plain" or views.get("id_number") == "plain":
            problems.append(f"{item.get('customer_id')}: a number in plain without a call")
    evidence = _audited(ctx, response)
    if problems:
        return _result(check, FAIL, "; ".join(problems[:5]), evidence=evidence)
    if not items or not masked or not evidence:
        return _result(check, NOT_EVIDENCED, "no masked field seen, or no audit record")
    return _result(
        check,
        PASS,
        f"{masked} fields over {len(items)} customers masked or hidden as the policy says",
        evidence=evidence,
    )


def _consent_flow(ctx: CheckContext) -> dict[str, Any]:
    """Grant, read (masked), withdraw, read again (blocked): once per report."""
    if "consent" in ctx.memo:
        return dict(ctx.memo["consent"])
    api = ctx.api
    assert api is not None
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    scope = {"customer_id": CONSENT_CUSTOMER, "category": "pi.contact.phone", "recipient": "bank"}
    path = f"/api/v1/shared/customers/{CONSENT_CUSTOMER}?purpose=cross_sell"
    flow: dict[str, Any] = {"evidence": [], "problems": []}
    granted = api.request(
        "POST",
        "/api/v1/consent/records",
        CONSENT_RECORDER,
        json={
            **scope,
            "notice_key": "life-to-bank-cross-sell",
            "notice_version": 1,
            "channel": "app",
            "evidence_ref": f"compliance-probe:{stamp}:{uuid.uuid4().hex[:8]}",
        },
    )
    if granted.status_code != 201:
        flow["problems"].append(f"granting the probe consent answered {granted.status_code}")
        ctx.memo["consent"] = flow
        return flow
    flow["evidence"] += _audited(ctx, granted)
    before = api.request("GET", path, CONSENT_RECIPIENT)
    flow["evidence"] += _audited(ctx, before)
    field_before = (before.json().get("fields") or {}).get("mobile") if before.is_success else None
    flow["shared_before"] = field_before
    withdrawn = api.request(
        "POST",
        "/api/v1/consent/withdrawals",
        CONSENT_RECORDER,
        json={
            **scope,
            "purpose": "cross_sell",
            "channel": "app",
            "evidence_ref": f"compliance-probe:{stamp}:withdraw",
        },
    )
    if withdrawn.status_code not in (200, 201):
        flow["problems"].append(f"withdrawing answered {withdrawn.status_code}")
    flow["evidence"] += _audited(ctx, withdrawn)
    after = api.request("GET", path, CONSENT_RECIPIENT)
    flow["evidence"] += _audited(ctx, after)
    flow["shared_after"] = (
        (after.json().get("fields") or {}).get("mobile") if after.is_success else None
    )
    flow["after_status"] = after.status_code
    ctx.memo["consent"] = flow
    return flow


def check_consent_withdrawal(check: dict[str, Any], ctx: CheckContext) -> CheckResult:
    """With consent the field is shared masked; after withdrawal the next read lacks it."""
    flow = _consent_flow(ctx)
    evidence = flow["evidence"]
    if flow["problems"]:
        return _result(check, NOT_EVIDENCED, "; ".join(flow["problems"]), evidence=evidence)
    before = flow.get("shared_before")
    if before is None:
        return _result(
            check, FAIL, "with a fresh consent the field was not shared", evidence=evidence
        )
    if check.get("assert") == "masked":
        if before.get("view") != "masked" or "*" not in str(before.get("value")):
            return _result(check, FAIL, "the shared phone number is not masked", evidence=evidence)
        detail = (
            f"shared as {before.get('value')} (masked) under consent {before.get('consent_id')}"
        )
    else:
        if flow.get("shared_after") is not None:
            return _result(
                check, FAIL, "the field was still shared after withdrawal", evidence=evidence
            )
        detail = (
            f"shared under consent {before.get('consent_id')}; withheld at the next read "
            "after withdrawal"
        )
    if not evidence:
        return _result(check, NOT_EVIDENCED, detail + "; nothing in the audit trail")
    return _result(check, PASS, detail, evidence=evidence)


def latest_checkpoints(api: GatewayApi, limit: int = 3) -> list[dict[str, Any]]:
    """The newest signed checkpoints, as the report cites them."""
    body = api.json("GET", "/api/v1/audit/checkpoints", SECURITY_ADMIN, params={"limit": limit})
    return [
        {
            "checkpoint_no": item["checkpoint_no"],
            "seq": item["seq"],
            "head_hash": item["head_hash"],
            "taken_at": item["taken_at"],
            "key_id": item["key_id"],
            "signature": item["signature"],
        }
        for item in body["items"]
    ]


def check_chain(check: dict[str, Any], ctx: CheckContext) -> CheckResult:
    """Verify the whole chain on the server against its signed checkpoints."""
    assert ctx.api is not None
    response = ctx.api.request("GET", "/api/v1/audit/chain/verify", AUDITOR)
    if response.status_code != 200:
        return _result(check, NOT_EVIDENCED, f"verification answered {response.status_code}")
    report = response.json()
    checkpoints = latest_checkpoints(ctx.api)
    evidence = [
        {
            "head_seq": report["head_seq"],
            "head_hash": report["head_hash"],
            "records": report["records"],
            "checkpoints_verified": report.get("checkpoints_verified", 0),
            "link": f"{ctx.api.base_url}/api/v1/audit/chain/verify",
        }
    ]
    if not report["ok"]:
        return _result(
            check,
            FAIL,
            f"chain broken at seq {report.get('first_bad_seq')}: {report.get('problem')}",
            evidence=evidence,
            checkpoints=checkpoints,
        )
    if not report["records"]:
        return _result(check, NOT_EVIDENCED, "the chain is empty", evidence=evidence)
    return _result(
        check,
        PASS,
        f"{report['records']} records verify up to seq {report['head_seq']} "
        f"({report.get('checkpoints_verified', 0)} signed checkpoints)",
        evidence=evidence,
        checkpoints=checkpoints,
    )


def check_alert(check: dict[str, Any], ctx: CheckContext) -> CheckResult:
    """Read a flagged customer: an alert must be raised, and is then acknowledged."""
    api = ctx.api
    assert api is not None
    subject, customer = check["subject"], check["customer"]
    probe = api.request("GET", f"/api/v1/customers/{customer}", subject)
    evidence = _audited(ctx, probe)
    # The rule raises one alert per actor, customer and day: this probe's own, or today's
    # earlier one for the same pair, whose evidence is an earlier access to that customer.
    # The owning service's own record of the probe (the one naming the customer) may reach
    # the trail after the gateway's, so the set is read afresh on every attempt.
    deadline = time.monotonic() + api.lookup_timeout
    alert: dict[str, Any] | None = None
    while alert is None and time.monotonic() < deadline:
        probe_ids = {
            record["event"]["event_id"]
            for record in api.events(actor=subject, customer_ref=customer)
        } | {ref["event_id"] for ref in evidence}
        page = api.json(
            "GET",
            "/api/v1/audit/alerts",
            SECURITY_ADMIN,
            params={"rule": "flagged_customers", "actor": subject, "limit": 200},
        )
        for item in page["items"]:
            ids = {ref["event_id"] for ref in item["evidence"]}
            if ids & probe_ids:
                alert = item
                break
        if alert is None:
            time.sleep(0.25)
    if alert is None:
        return _result(
            check, FAIL, "no alert was raised for the flagged customer", evidence=evidence
        )
    if alert["status"] == "open":
        handled = api.request(
            "POST",
            f"/api/v1/audit/alerts/{alert['alert_id']}/acknowledge",
            SECURITY_ADMIN,
            json={"note": "compliance report probe"},
        )
        if handled.status_code == 200:
            alert = handled.json()
    alert_ref = {
        "alert_id": alert["alert_id"],
        "rule": alert["rule"],
        "status": alert["status"],
        "evidence_event_ids": [ref["event_id"] for ref in alert["evidence"]],
        "link": f"{api.base_url}/api/v1/audit/alerts/{alert['alert_id']}",
    }
    if alert["status"] == "open":
        return _result(
            check, FAIL, "the alert could not be handled", evidence=[*evidence, alert_ref]
        )
    return _result(
        check,
        PASS,
        f"alert {alert['alert_id']} raised ({alert['severity']}) and {alert['status']}",
        evidence=[*evidence, alert_ref],
    )


def check_endpoint(check: dict[str, Any], ctx: CheckContext) -> CheckResult:
    """A report endpoint answers for the role that needs it, and the read is audited."""
    assert ctx.api is not None
    response = ctx.api.request("GET", check["path"], check["subject"])
    if response.status_code != 200 or check["require_key"] not in response.json():
        return _result(check, FAIL, f"{check['path']} answered {response.status_code}")
    evidence = _audited(ctx, response)
    if not evidence:
        return _result(check, NOT_EVIDENCED, "answered, but the read is not in the audit trail")
    return _result(
        check, PASS, f"{check['path']} answered for {check['subject']}", evidence=evidence
    )


CHECKS: dict[str, Callable[[dict[str, Any], CheckContext], CheckResult]] = {
    "policy": check_policy,
    "agreements": check_agreements,
    "probe": check_probe,
    "masked_listing": check_masked_listing,
    "consent_withdrawal": check_consent_withdrawal,
    "chain_verify": check_chain,
    "alert_probe": check_alert,
    "endpoint": check_endpoint,
}


def run_check(check: dict[str, Any], ctx: CheckContext) -> CheckResult:
    """Run one check; a live check without a gateway is not evidenced."""
    if check["kind"] not in ("policy", "agreements") and ctx.api is None:
        return _result(check, NOT_EVIDENCED, "no running suite to check against")
    return CHECKS[check["kind"]](check, ctx)
