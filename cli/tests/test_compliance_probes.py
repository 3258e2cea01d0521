"""Live checks against a gateway double (httpx.MockTransport): refused, allowed, unaudited."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from anxin_cli.compliance.api import GatewayApi
from anxin_cli.compliance.checks import FAIL, NOT_EVIDENCED, PASS, CheckContext, run_check
from anxin_shared.policy import PolicyEngine

POLICIES = Path(__file__).resolve().parents[2] / "policies"
PROBE = {
    "kind": "probe",
    "name": "a contractor's unmask is denied",
    "subject": "contractor.sun",
    "method": "POST",
    "path": "/api/v1/customers/C000001/unmask",
    "json": {"fields": ["mobile"], "reason": "probe"},
    "expect_status": 403,
}


def gateway(status: int, audited: list[dict[str, Any]]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer token-for-" + (
            "auditor.zheng" if request.url.path.startswith("/api/v1/audit") else "contractor.sun"
        )
        if request.url.path == "/api/v1/audit/events":
            assert request.url.params["request_id"] == "req-1"
            return httpx.Response(200, json={"items": audited, "next_after_seq": None})
        assert json.loads(request.content)["reason"] == "probe"
        return httpx.Response(
            status, json={"status": status, "request_id": "req-1", "decision_id": "d-1"}
        )

    return httpx.MockTransport(handle)


def record(allowed: bool) -> dict[str, Any]:
    return {
        "seq": 42,
        "hash": "ab" * 32,
        "prev_hash": "cd" * 32,
        "event": {
            "event_id": "e-42",
            "producer": "gateway",
            "actor": "contractor.sun",
            "action": "unmask",
            "resource": "customer.profile",
            "allowed": allowed,
            "decision_id": "d-1",
            "request_id": "req-1",
        },
    }


def run(status: int, audited: list[dict[str, Any]]) -> Any:
    api = GatewayApi(
        "http://gw.test",
        lambda subject: f"token-for-{subject}",
        transport=gateway(status, audited),
        lookup_timeout=0.3,
    )
    engine = PolicyEngine(POLICIES)
    engine.load()
    try:
        return run_check(PROBE, CheckContext(api, engine, engine.version))
    finally:
        api.close()


def test_a_refused_and_audited_probe_passes_with_links() -> None:
    result = run(403, [record(False)])
    assert result.status == PASS
    (ref,) = result.evidence
    assert (ref["seq"], ref["event_id"], ref["hash"]) == (42, "e-42", "ab" * 32)
    assert ref["link"] == "http://gw.test/api/v1/audit/events?decision_id=d-1"


def test_a_probe_that_gets_through_fails() -> None:
    assert run(200, [record(True)]).status == FAIL


def test_a_refusal_missing_from_the_trail_is_not_evidenced() -> None:
    assert run(403, []).status == NOT_EVIDENCED
    assert run(403, [record(True)]).status == NOT_EVIDENCED


def test_live_checks_without_a_suite_are_not_evidenced() -> None:
    engine = PolicyEngine(POLICIES)
    engine.load()
    result = run_check(PROBE, CheckContext(None, engine, engine.version))
    assert result.status == NOT_EVIDENCED


def test_tokens_come_from_a_token_file(tmp_path: Path) -> None:
    import pytest

    from anxin_cli.compliance.api import ReportAbort, token_file_source

    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"auditor.zheng": "t-1"}), encoding="utf-8")
    source = token_file_source(path)
    assert source("auditor.zheng") == "t-1"
    with pytest.raises(ReportAbort, match=r"agent\.li"):
        source("agent.li")
