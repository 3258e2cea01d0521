"""The gateway's own policy API (issue 7): explain, diff, replica status and checks.

Against the real suite: each route is decided by policy (an agent gets 403,
an auditor may not diff), validated (422 problems that never echo the input)
and audited like every other call; nothing it does changes the live policy.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from anxin_gateway.main import create_app as create_gateway
from anxin_gateway.settings import GatewaySettings
from anxin_shared.keys import ensure_dev_keys
from tests.support import REPO, RunningSuite

pytestmark = pytest.mark.e2e

SERVICES = ("gateway", "identity", "consent", "profile", "audit")
DENIED_UNMASK = {
    "subject": "contractor.sun",
    "subsidiary": "pc",
    "resource": "customer.profile",
    "action": "unmask",
    "level": "L0",
}
NEW_RULE = "p, agent, *, policy.status, read, L0, allow"


def post(suite: RunningSuite, path: str, subject: str, body: Any) -> httpx.Response:
    """POST JSON through the gateway as `subject`."""
    headers = {"authorization": f"Bearer {suite.token(subject)}"}
    return suite.client.post(f"{suite.gateway}{path}", json=body, headers=headers)


def live_policy_csv(suite: RunningSuite) -> str:
    return (suite.policies_dir / "policy.csv").read_text(encoding="utf-8")


def live_version(suite: RunningSuite) -> str:
    return str(suite.client.get(f"{suite.gateway}/readyz").json()["policy_version"])


def test_explain_names_the_deny_rule_the_gateway_applied(running_suite: RunningSuite) -> None:
    denied = post(running_suite, "/api/v1/customers/C000001/unmask", "contractor.sun", {})
    assert denied.status_code == 403

    response = post(running_suite, "/api/v1/policy/explain", "secadmin.wu", DENIED_UNMASK)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    explained = response.json()
    decision = explained["decision"]
    assert decision["allowed"] is False
    assert decision["policy_version"] == live_version(running_suite)
    assert "; ".join(decision["reasons"]) == denied.json()["detail"]
    assert explained["role_chain"] == [
        {"name": "contractor.sun", "role": "outsourced_agent", "subsidiary": "pc"}
    ]
    [deny] = explained["matching_deny_rules"]
    assert deny["rule"] == "outsourced_agent, *, customer.profile, unmask, L0, deny"
    line = live_policy_csv(running_suite).splitlines()[deny["line"] - 1]
    assert [token.strip() for token in line.split(",")][1:] == deny["rule"].split(", ")


def test_explain_checks_facts_like_the_gateway(running_suite: RunningSuite) -> None:
    request = {
        "subject": "agent.li",
        "subsidiary": "life",
        "resource": "customer.contact",
        "action": "read",
        "level": "L1",
        "facts": {"assurance_level": True, "agreement": "2026-01-31"},
        "at": "2026-02-01T09:00:00+08:00",
    }
    explained = post(running_suite, "/api/v1/policy/explain", "auditor.zheng", request).json()
    assert explained["decision"]["allowed"] is False
    assert explained["decision"]["failed_fact"] == "agreement"
    assert explained["failed_facts"] == ["agreement"]
    assert [r["rule"] for r in explained["matching_allow_rules"]] == [
        "agent, *, customer.contact, read, L1, allow"
    ]


@pytest.mark.parametrize(
    "change",
    [
        {"level": "L9"},
        {"subject": "agent li; drop"},
        {"resource": ""},
        {"facts": {"agreement": "someday"}},
        {"facts": {"agreement": [1, 2]}},
        {"surprise": "field"},
    ],
    ids=["level", "subject", "resource", "fact-text", "fact-shape", "extra-field"],
)
def test_explain_refuses_bad_input_with_a_problem(
    running_suite: RunningSuite, change: dict[str, Any]
) -> None:
    response = post(
        running_suite, "/api/v1/policy/explain", "secadmin.wu", {**DENIED_UNMASK, **change}
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["title"] == "Validation failed" and problem["request_id"]
    assert "someday" not in response.text and "drop" not in response.text


@pytest.mark.parametrize(
    ("method", "path", "subject"),
    [
        ("POST", "/api/v1/policy/explain", "agent.li"),
        ("POST", "/api/v1/policy/diff", "agent.li"),
        ("GET", "/api/v1/policy/status", "agent.li"),
        ("GET", "/api/v1/policy/checks", "agent.li"),
        ("POST", "/api/v1/policy/diff", "auditor.zheng"),
        ("GET", "/api/v1/policy/status", "supervisor.liu"),
    ],
)
def test_policy_routes_are_decided_by_policy(
    running_suite: RunningSuite, method: str, path: str, subject: str
) -> None:
    headers = {"authorization": f"Bearer {running_suite.token(subject)}"}
    body = DENIED_UNMASK if path.endswith("explain") else {"policy_csv": NEW_RULE}
    response = running_suite.client.request(
        method,
        f"{running_suite.gateway}{path}",
        headers=headers,
        json=body if method == "POST" else None,
    )
    assert response.status_code == 403
    assert response.json()["decision_id"]


def test_a_refused_policy_call_is_in_the_audit_trail(running_suite: RunningSuite) -> None:
    refused = running_suite.get("/api/v1/policy/status", subject="agent.li")
    assert refused.status_code == 403
    decision_id = refused.json()["decision_id"]
    items: list[dict[str, Any]] = []
    for _ in range(40):
        items = running_suite.get(
            f"/api/v1/audit/events?decision_id={decision_id}", subject="secadmin.wu"
        ).json()["items"]
        if items:
            break
        time.sleep(0.25)
    [record] = items
    event = record["event"]
    assert (event["actor"], event["resource"], event["action"]) == (
        "agent.li",
        "policy.status",
        "read",
    )
    assert event["allowed"] is False


def test_diff_lists_the_decisions_a_candidate_flips(running_suite: RunningSuite) -> None:
    before = live_version(running_suite)
    live = live_policy_csv(running_suite)
    candidate = (
        live.replace("p, security_admin, *, audit.archive, create, L0, allow\n", "")
        + f"\n{NEW_RULE}\n"
    )
    response = post(running_suite, "/api/v1/policy/diff", "secadmin.wu", {"policy_csv": candidate})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["base_version"] == before != report["head_version"]
    flips = {
        (f["subject"], f["subsidiary"], f["resource"], f["action"], f["level"]): f
        for f in report["flips"]
        if f["kind"] == "decision"
    }
    gained = flips[("agent.li", "life", "policy.status", "read", "L0")]
    assert (gained["before"], gained["after"]) == ("deny", "allow")
    assert gained["after_rule"] == NEW_RULE[3:]
    lost = flips[("secadmin.wu", "bank", "audit.archive", "create", "L0")]
    assert (lost["before"], lost["after"]) == ("allow", "deny")
    assert report["decision_flips"] == sum(c["count"] for c in report["counts"])
    assert live_version(running_suite) == before  # nothing applied
    assert live_policy_csv(running_suite) == live


@pytest.mark.parametrize(
    ("candidate", "says"),
    [
        ("p, agent, *, nosuch.resource, read, L0, allow\n", "lint"),
        ("p, agent, *, customer.profile, read, L7, allow\n", "lint"),
        ("p, agent\n", "lint"),
    ],
    ids=["unknown-resource", "unknown-level", "truncated-rule"],
)
def test_diff_refuses_a_broken_candidate(
    running_suite: RunningSuite, candidate: str, says: str
) -> None:
    before = live_version(running_suite)
    text = live_policy_csv(running_suite) + candidate
    response = post(running_suite, "/api/v1/policy/diff", "secadmin.wu", {"policy_csv": text})
    assert response.status_code == 422, response.text
    problem = response.json()
    assert "nothing was applied" in problem["detail"]
    assert problem[says] and all(isinstance(m, str) for m in problem[says])
    assert live_version(running_suite) == before


def test_diff_refuses_an_oversized_or_empty_candidate(running_suite: RunningSuite) -> None:
    huge = "# padding\n" * 30_000
    for text in (huge, ""):
        response = post(running_suite, "/api/v1/policy/diff", "secadmin.wu", {"policy_csv": text})
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"][-1] == "policy_csv"


def test_status_lists_every_service_replica_and_its_version(running_suite: RunningSuite) -> None:
    assert running_suite.get("/api/v1/customers/C000002", subject="agent.li").status_code in (
        200,
        403,
    )
    response = running_suite.get("/api/v1/policy/status", subject="secadmin.wu")
    assert response.status_code == 200, response.text
    status = response.json()
    assert status["gateway_version"] == live_version(running_suite)
    assert status["unreachable"] == []
    rows = status["replicas"]
    assert {row["service"] for row in rows} == set(SERVICES)
    for service in SERVICES:
        ready = running_suite.client.get(f"{running_suite.suite.url(service)}/readyz").json()
        [row] = [r for r in rows if r["service"] == service]
        assert row["instance"] == ready["instance"]
        assert row["policy_version"] == ready["policy_version"] == status["gateway_version"]
        assert row["agrees"] is True and row["last_seen"]
        assert row["source"] in ("self", "probe", "traffic")
    [profile] = [r for r in rows if r["service"] == "profile"]
    assert profile["shadow"] is None  # no candidate configured in this suite


def test_backend_responses_name_their_replica_but_clients_never_see_it(
    running_suite: RunningSuite,
) -> None:
    direct = running_suite.client.get(f"{running_suite.suite.url('consent')}/healthz")
    ready = running_suite.client.get(f"{running_suite.suite.url('consent')}/readyz").json()
    assert re.fullmatch(r".+:[0-9]+", direct.headers["x-anxin-instance"])
    assert direct.headers["x-anxin-instance"] == ready["instance"]
    assert direct.headers["x-anxin-policy-version"] == live_version(running_suite)
    through = running_suite.get("/api/v1/consent/notices", subject="agent.li")
    assert through.status_code == 200
    assert "x-anxin-instance" not in through.headers
    assert "x-anxin-policy-version" not in through.headers


def test_checks_report_lint_cases_and_coverage(running_suite: RunningSuite) -> None:
    response = running_suite.get("/api/v1/policy/checks", subject="auditor.zheng")
    assert response.status_code == 200, response.text
    checks = response.json()
    assert checks["folder_version"] == checks["live_version"] == live_version(running_suite)
    assert checks["lint"]["errors"] == 0
    tests = checks["tests"]
    assert tests["failed"] == 0 and tests["passed"] > 100
    assert tests["coverage_ok"] is True
    assert tests["covered"] == round(tests["coverage"] * tests["rules"])
    assert len(tests["uncovered"]) == min(100, tests["rules"] - tests["covered"])


async def test_status_reports_the_shadow_counters_of_a_candidate(tmp_path: Path) -> None:
    """In process: a gateway with a shadow candidate counts what the candidate would flip.

    The backends are deliberately unreachable (a closed port), so the status says so
    instead of inventing their versions.
    """
    live = tmp_path / "policies"
    shutil.copytree(REPO / "policies", live)
    candidate = tmp_path / "candidate"
    shutil.copytree(REPO / "policies", candidate)
    with (candidate / "policy.csv").open("a", encoding="utf-8") as handle:
        handle.write(f"\n{NEW_RULE}\n")
    ensure_dev_keys(tmp_path / "keys")
    closed = {f"{peer}_url": "http://127.0.0.1:9" for peer in SERVICES if peer != "gateway"}
    settings = GatewaySettings(  # type: ignore[call-arg]
        env="dev", var_dir=tmp_path, policies_dir=live, policy_shadow_dir=candidate, **closed
    )
    app = create_gateway(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client,
    ):

        async def bearer(subject: str) -> dict[str, str]:
            token = (await client.post("/dev/token", json={"subject": subject})).json()
            return {"authorization": f"Bearer {token['access_token']}"}

        agent, admin = await bearer("agent.li"), await bearer("secadmin.wu")
        for _ in range(2):  # live denies, the candidate would allow: counted, not enforced
            assert (await client.get("/api/v1/policy/status", headers=agent)).status_code == 403
        response = await client.get("/api/v1/policy/status", headers=admin)
    assert response.status_code == 200, response.text
    status = response.json()
    assert status["unreachable"] == sorted(p for p in SERVICES if p != "gateway")
    [gateway] = status["replicas"]
    assert gateway["service"] == "gateway" and gateway["source"] == "self"
    assert gateway["agrees"] is True
    shadow = gateway["shadow"]
    assert shadow["version"] != status["gateway_version"] and shadow["error"] is None
    assert shadow["differences"] == 2
    assert shadow["compared"] >= 3
