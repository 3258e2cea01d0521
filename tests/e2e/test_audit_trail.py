"""Issue 6 against the real suite: reconciliation by request id, queries, alerts on seeded
scenarios, findings whose evidence verifies, and `anxin audit verify` in each of its modes."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from anxin_audit.events.chain import record_hash
from anxin_cli.main import app
from anxin_shared.keys import load_key, private_key_path
from anxin_shared.tokens import TokenSigner, service_issuer
from tests.support import RunningSuite

pytestmark = pytest.mark.e2e
runner = CliRunner()


def producer_post(suite: RunningSuite, events: list[dict[str, Any]]) -> httpx.Response:
    """Deliver a batch the way identity's outbox relay does (a signed service token)."""
    keys = suite.suite.var_dir / "keys"
    signer = TokenSigner(
        service_issuer("identity"), load_key(private_key_path(keys, "identity")), "identity"
    )
    token = signer.mint("service:identity", "anxin-audit", 60, kind="service", subsidiary="group")
    return suite.client.post(
        suite.suite.url("audit") + "/internal/v1/events:batch",
        json={"events": events},
        headers={"authorization": f"Bearer {token}"},
    )


def seeded(actor: str, at: datetime, **fields: Any) -> dict[str, Any]:
    """An event as profile or identity would emit it."""
    return {
        "event_id": uuid.uuid4().hex,
        "occurred_at": at.isoformat(),
        "producer": "profile",
        "actor": actor,
        "actor_kind": "user",
        "roles": ["agent"],
        "actor_subsidiary": "life",
        "action": "read",
        "resource": "customer.profile",
        "allowed": True,
        "domain": "life",
        "assurance_level": "L0",
        "request_id": uuid.uuid4().hex,
        **fields,
    }


def api(suite: RunningSuite, method: str, path: str, subject: str, **kwargs: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {suite.token(subject)}"}
    return suite.client.request(method, f"{suite.gateway}{path}", headers=headers, **kwargs)


def all_events(suite: RunningSuite, subject: str, **filters: str) -> list[dict[str, Any]]:
    """Every event matching the filters, paging through with the bounded page size."""
    items: list[dict[str, Any]] = []
    after = 0
    while True:
        response = api(
            suite,
            "GET",
            "/api/v1/audit/events",
            subject,
            params={**filters, "after_seq": after, "limit": 500},
        )
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        if page["next_after_seq"] is None:
            return items
        after = page["next_after_seq"]


def wait_for(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.3)


def test_n_gateway_calls_leave_exactly_n_gateway_events(running_suite: RunningSuite) -> None:
    token = running_suite.token("agent.zhang")
    headers = {"authorization": f"Bearer {token}"}
    paths = ["/api/v1/policy/version", "/api/v1/consent/notices", "/api/v1/audit/events"] * 8
    request_ids = []
    for path in paths:  # 24 calls: allowed, proxied, and denied at the gateway
        response = running_suite.client.get(running_suite.gateway + path, headers=headers)
        assert response.status_code < 500, response.text
        request_ids.append(response.headers["x-request-id"])
    assert len(set(request_ids)) == len(paths)

    def gateway_events() -> list[dict[str, Any]]:
        events = all_events(running_suite, "auditor.zheng", producer="gateway", actor="agent.zhang")
        mine = [item["event"] for item in events if item["event"]["request_id"] in request_ids]
        return mine if len(mine) >= len(paths) else []

    events = wait_for(gateway_events)
    counts = Counter(event["request_id"] for event in events)
    assert len(events) == len(paths)
    assert set(counts) == set(request_ids) and set(counts.values()) == {1}
    denied = [event for event in events if event["resource"] == "audit.event"]
    assert len(denied) == 8 and not any(event["allowed"] for event in denied)


def test_queries_filter_and_stay_inside_the_subsidiaries_policy_names(
    running_suite: RunningSuite,
) -> None:
    now = datetime.now(UTC)
    customer = f"C9{uuid.uuid4().int % 10**5:05d}"
    life = seeded("agent.li", now, customer_ref=customer)
    denied = seeded("agent.li", now, customer_ref=customer, allowed=False)
    bank = seeded("agent.wang", now, customer_ref=customer, domain="bank", actor_subsidiary="bank")
    assert producer_post(running_suite, [life, denied, bank]).status_code == 200

    def ids(subject: str, **filters: str) -> set[str]:
        return {item["event"]["event_id"] for item in all_events(running_suite, subject, **filters)}

    assert ids("auditor.zheng", customer_ref=customer) == {
        life["event_id"],
        denied["event_id"],
        bank["event_id"],
    }
    assert ids("auditor.zheng", customer_ref=customer, decision="denied") == {denied["event_id"]}
    assert ids("auditor.zheng", customer_ref=customer, subsidiary="bank") == {bank["event_id"]}
    window = {
        "occurred_from": (now - timedelta(seconds=1)).isoformat(),
        "occurred_to": (now + timedelta(seconds=1)).isoformat(),
    }
    assert ids("auditor.zheng", customer_ref=customer, actor="agent.li", **window) == {
        life["event_id"],
        denied["event_id"],
    }
    assert ids("auditor.zheng", customer_ref=customer, occurred_from=window["occurred_to"]) == set()
    # A life supervisor sees life's events only; an agent sees none.
    assert ids("supervisor.liu", customer_ref=customer) == {life["event_id"], denied["event_id"]}
    refused = api(running_suite, "GET", "/api/v1/audit/events", "agent.li")
    assert refused.status_code == 403
    too_big = api(running_suite, "GET", "/api/v1/audit/events?limit=100000", "auditor.zheng")
    assert too_big.status_code == 422

    who = api(running_suite, "GET", f"/api/v1/audit/customers/{customer}/accesses", "auditor.zheng")
    assert who.status_code == 200, who.text
    actors = {entry["actor"]: entry for entry in who.json()["actors"]}
    assert set(actors) == {"agent.li", "agent.wang"}
    assert actors["agent.li"]["accesses"] == 2 and actors["agent.li"]["denied"] == 1
    for entry in actors.values():  # RFC 3339 with an offset, on SQLite as on PostgreSQL
        for moment in (entry["first_at"], entry["last_at"]):
            assert datetime.fromisoformat(moment.replace("Z", "+00:00")).tzinfo is not None
    scoped = api(
        running_suite, "GET", f"/api/v1/audit/customers/{customer}/accesses", "supervisor.liu"
    )
    assert {entry["actor"] for entry in scoped.json()["actors"]} == {"agent.li"}


def test_seeded_scenarios_fire_their_alerts(running_suite: RunningSuite) -> None:
    agent = f"agent.e2e{uuid.uuid4().hex[:6]}"
    start = datetime.now(UTC).replace(hour=3)  # 11:00 in Shanghai: inside shift hours
    reads = [
        seeded(agent, start + timedelta(seconds=6 * i), customer_ref=f"C7{i:05d}")
        for i in range(50)
    ]  # 50 customers in 5 minutes, no verified call
    watchlist = seeded(
        agent,
        start,
        producer="identity",
        kind="fraud.watchlist_hit",
        resource="call.session",
        action="verify",
    )
    denials = [
        seeded(agent, start + timedelta(seconds=i), allowed=False, resource="customer.contact")
        for i in range(10)
    ]
    assert producer_post(running_suite, [*reads, watchlist, *denials]).status_code == 200

    def alerts() -> dict[str, dict[str, Any]]:
        response = api(running_suite, "GET", f"/api/v1/audit/alerts?actor={agent}", "secadmin.wu")
        assert response.status_code == 200, response.text
        found = {item["rule"]: item for item in response.json()["items"]}
        wanted = {"unverified_reads", "fraud_watchlist", "repeated_denials"}
        return found if wanted <= set(found) else {}

    found = wait_for(alerts)
    assert found, "the seeded scenarios raised no alerts"
    reads_alert = found["unverified_reads"]
    assert reads_alert["severity"] == "high" and reads_alert["status"] == "open"
    assert {item["event_id"] for item in reads_alert["evidence"]} == {r["event_id"] for r in reads}
    assert found["fraud_watchlist"]["severity"] == "critical"
    assert found["fraud_watchlist"]["evidence"][0]["event_id"] == watchlist["event_id"]

    alert_id = reads_alert["alert_id"]
    path = f"/api/v1/audit/alerts/{alert_id}"
    assert (
        api(running_suite, "POST", path + "/acknowledge", "auditor.zheng", json={}).status_code
        == 403
    )
    acked = api(running_suite, "POST", path + "/acknowledge", "secadmin.wu", json={"note": "on it"})
    assert acked.status_code == 200, acked.text
    assert (
        acked.json()["status"] == "acknowledged"
        and acked.json()["acknowledged_by"] == "secadmin.wu"
    )
    again = api(running_suite, "POST", path + "/acknowledge", "secadmin.wu", json={})
    assert again.status_code == 409
    escalated = api(running_suite, "POST", path + "/escalate", "secadmin.wu", json={})
    assert escalated.json()["escalation_level"] == 1 and escalated.json()["status"] == "escalated"
    missing = api(running_suite, "GET", "/api/v1/audit/alerts/nope", "secadmin.wu")
    assert missing.status_code == 403


def test_a_finding_links_to_events_whose_hashes_verify(running_suite: RunningSuite) -> None:
    evidence = [seeded("agent.li", datetime.now(UTC), customer_ref="C000002") for _ in range(2)]
    assert producer_post(running_suite, evidence).status_code == 200
    created = api(
        running_suite,
        "POST",
        "/api/v1/audit/inspections",
        "auditor.zheng",
        json={
            "title": "客户信息访问检查",
            "scope": "life agents, reads without a call",
            "subsidiary": "life",
            "inspection_date": str(date.today()),
        },
    )
    assert created.status_code == 201, created.text
    inspection = created.json()["inspection_id"]
    finding = api(
        running_suite,
        "POST",
        f"/api/v1/audit/inspections/{inspection}/findings",
        "auditor.zheng",
        json={
            "summary": "customer records read without a verified call",
            "severity": "high",
            "responsible_role": "supervisor",
            "responsible_subsidiary": "life",
            "deadline": str(date.today() - timedelta(days=3)),
            "evidence_event_ids": [e["event_id"] for e in evidence],
        },
    )
    assert finding.status_code == 201, finding.text
    finding_id = finding.json()["finding_id"]
    read = api(running_suite, "GET", f"/api/v1/audit/findings/{finding_id}", "auditor.zheng")
    body = read.json()
    assert body["evidence_verified"] is True
    hashes = {item["event_id"]: item["hash"] for item in body["evidence"]}
    stored = {
        item["event"]["event_id"]: item["hash"]
        for item in all_events(running_suite, "auditor.zheng", customer_ref="C000002")
    }
    assert all(stored[event_id] == digest for event_id, digest in hashes.items())

    report = api(running_suite, "GET", "/api/v1/audit/reports/overdue-findings", "auditor.zheng")
    assert finding_id in {item["finding_id"] for item in report.json()["items"]}
    csv_report = api(
        running_suite, "GET", "/api/v1/audit/reports/overdue-findings?format=csv", "auditor.zheng"
    )
    assert csv_report.headers["content-type"].startswith("text/csv")
    assert finding_id in csv_report.text
    closed = api(
        running_suite,
        "PATCH",
        f"/api/v1/audit/findings/{finding_id}",
        "auditor.zheng",
        json={"status": "closed"},
    )
    assert closed.json()["status"] == "closed"
    denied = api(
        running_suite,
        "POST",
        "/api/v1/audit/inspections",
        "secadmin.wu",
        json={
            "title": "t",
            "scope": "s",
            "subsidiary": "life",
            "inspection_date": str(date.today()),
        },
    )
    assert denied.status_code == 403


def test_anxin_audit_verify_live_export_and_anchor(
    running_suite: RunningSuite, tmp_path: Path
) -> None:
    var = running_suite.suite.var_dir
    common = [
        "--gateway",
        running_suite.gateway,
        "--var",
        str(var),
        "--policies",
        str(running_suite.policies_dir),
    ]
    for _ in range(12):  # some traffic, so the chain is longer than a few records
        api(running_suite, "GET", "/api/v1/policy/version", "agent.li")
    taken = api(running_suite, "POST", "/api/v1/audit/checkpoints", "secadmin.wu")
    assert taken.status_code == 201, taken.text

    live = runner.invoke(app, ["audit", "verify", *common, "--chunk", "1000"])
    assert live.exit_code == 0, live.output
    report = json.loads(live.stdout)
    assert report["ok"] and report["checkpoints_verified"] >= 1

    anchor = var / "audit-anchor.jsonl"
    taken_seq = taken.json()["seq"]
    assert wait_for(lambda: anchor.exists() and f'"seq":{taken_seq},' in anchor.read_text())
    anchored = runner.invoke(app, ["audit", "verify", *common, "--checkpoint", str(anchor)])
    assert anchored.exit_code == 0, anchored.output

    export = tmp_path / "chain.jsonl"
    exported = runner.invoke(
        app, ["audit", "export", *common, "--out", str(export), "--page", "500"]
    )
    assert exported.exit_code == 0, exported.output
    offline = runner.invoke(app, ["audit", "verify", *common, "--export", str(export)])
    assert offline.exit_code == 0, offline.output

    # The tamper suite on a copy of this suite's real chain: each class is caught.
    items = [json.loads(line) for line in export.read_text().splitlines()]
    records = [item for item in items if item["type"] == "record"]
    last_checkpoint = max(item["seq"] for item in items if item["type"] == "checkpoint")
    assert last_checkpoint > 10 and records[0]["seq"] == 1
    # The anchor as security staff held it when the export was taken.
    held = tmp_path / "anchor-at-export.jsonl"
    held.write_text(
        "".join(
            line + "\n"
            for line in anchor.read_text().splitlines()
            if json.loads(line)["seq"] <= records[-1]["seq"]
        )
    )

    def at(copy: list[dict[str, Any]], seq: int) -> int:
        return next(i for i, x in enumerate(copy) if x["type"] == "record" and x["seq"] == seq)

    def edit(copy: list[dict[str, Any]]) -> None:
        copy[at(copy, 3)]["body"] = copy[at(copy, 3)]["body"].replace(
            '"action":"', '"action":"x', 1
        )

    def delete(copy: list[dict[str, Any]]) -> None:
        del copy[at(copy, 3)]

    def reorder(copy: list[dict[str, Any]]) -> None:
        i, j = at(copy, 3), at(copy, 4)
        copy[i], copy[j] = copy[j], copy[i]

    def duplicate(copy: list[dict[str, Any]]) -> None:
        copy.insert(at(copy, 3) + 1, dict(copy[at(copy, 3)]))

    def insert(copy: list[dict[str, Any]]) -> None:
        forged = dict(copy[at(copy, 3)])
        forged["body"] = forged["body"].replace('"allowed":', '"allowed": ', 1)
        copy.insert(at(copy, 3) + 1, forged)

    def rehash(copy: list[dict[str, Any]]) -> None:
        edit(copy)
        prev = None
        for item in copy:
            if item["type"] == "record":
                if prev is not None:
                    item["prev_hash"] = prev
                if item["seq"] >= 3:
                    item["hash"] = record_hash(item["seq"], item["prev_hash"], item["body"])
                prev = item["hash"]

    # Cut below the newest checkpoint the held anchor has: checkpoints taken after the
    # anchor was copied (the background task keeps signing) cannot reveal the cut.
    anchored_seqs = [json.loads(line)["seq"] for line in held.read_text().splitlines()]
    assert max(anchored_seqs) >= taken_seq
    cut = max(anchored_seqs) - 2

    def truncate(copy: list[dict[str, Any]]) -> None:
        copy[:] = [x for x in copy if x["type"] == "header" or x["seq"] <= cut]

    cases = {
        "edited field": (edit, 3),
        "deleted record": (delete, 3),
        "reordered records": (reorder, 3),
        "duplicated record": (duplicate, 4),
        "inserted record": (insert, 4),
        "re-hashed chain": (rehash, None),
        "truncated tail (and its checkpoints)": (truncate, cut + 1),
    }
    untouched = runner.invoke(
        app, ["audit", "verify", *common, "--export", str(export), "--checkpoint", str(held)]
    )
    assert untouched.exit_code == 0, untouched.output
    for name, (tamper, first_bad) in cases.items():
        copy = [dict(item) for item in items]
        tamper(copy)
        tampered = tmp_path / "tampered.jsonl"
        tampered.write_text("".join(json.dumps(item) + "\n" for item in copy))
        broken = runner.invoke(
            app,
            ["audit", "verify", *common, "--export", str(tampered), "--checkpoint", str(held)],
        )
        assert broken.exit_code == 1, name
        report = json.loads(broken.stdout)
        assert report["ok"] is False, name
        if first_bad is not None:
            assert report["first_bad_seq"] == first_bad, (name, report["problem"])


def test_retention_archives_only_what_expired_and_only_for_security_staff(
    running_suite: RunningSuite,
) -> None:
    path = "/api/v1/audit/retention/archive"
    assert api(running_suite, "POST", path, "auditor.zheng").status_code == 403
    nothing = api(running_suite, "POST", path, "secadmin.wu")
    assert nothing.status_code == 409, nothing.text  # the default period is five years
