"""The foundation's acceptance, against the real suite (five processes) on each backend."""

from __future__ import annotations

import socket
import time
from typing import Any

import httpx
import pytest
from jose import jwt

from anxin_profile.demo_data import generate_customers
from anxin_shared.keys import load_key
from anxin_shared.settings import SERVICES
from tests.support import RunningSuite

pytestmark = pytest.mark.e2e


def audit_events(suite: RunningSuite, request_id: str, expected: int) -> list[dict[str, Any]]:
    """The audit events of one request, waiting for the outbox relays to deliver them."""
    deadline = time.monotonic() + 15
    events: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        response = suite.get(
            f"/api/v1/audit/events?request_id={request_id}", subject="auditor.zheng"
        )
        assert response.status_code == 200, response.text
        events = [item["event"] for item in response.json()["items"]]
        if len(events) >= expected:
            return events
        time.sleep(0.3)
    return events


def raw_request(suite: RunningSuite, method: str, target: str, token: str) -> httpx.Response:
    """Send a request target byte for byte (HTTP clients normalize dot segments)."""
    port = suite.suite.ports["gateway"]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {token}\r\nConnection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return httpx.Response(int(lines[0].split()[1]), headers=headers, content=body)


def test_every_service_is_ready_with_one_policy_version(running_suite: RunningSuite) -> None:
    versions = set()
    for service in SERVICES:
        response = running_suite.client.get(running_suite.suite.url(service) + "/readyz")
        assert response.status_code == 200, (service, response.text)
        body = response.json()
        assert body["database"] == "ok"
        versions.add(body["policy_version"])
    assert len(versions) == 1 and None not in versions


def test_own_subsidiary_allowed_other_denied_and_both_audited(running_suite: RunningSuite) -> None:
    listing = running_suite.get("/api/v1/customers?limit=100", subject="agent.li")
    assert listing.status_code == 200, listing.text
    own = listing.json()["items"][0]
    assert own["subsidiary"] == "life"
    allowed = running_suite.get(f"/api/v1/customers/{own['customer_id']}", subject="agent.li")
    assert allowed.status_code == 200
    assert allowed.json()["field_views"]["id_number"] == "hidden"
    assert allowed.json()["id_number"] is None

    bank = running_suite.get("/api/v1/customers?limit=1", subject="agent.wang")
    bank_customer = bank.json()["items"][0]["customer_id"]
    denied = running_suite.get(f"/api/v1/customers/{bank_customer}", subject="agent.li")
    assert denied.status_code == 403
    assert denied.headers["content-type"] == "application/problem+json"
    assert denied.json()["decision_id"]
    missing = running_suite.get("/api/v1/customers/C999999", subject="agent.li")
    assert missing.status_code == 403
    assert set(missing.json()) == set(denied.json())
    assert missing.json()["detail"] == denied.json()["detail"]

    for response, allowed_flag in ((allowed, True), (denied, False)):
        request_id = response.headers["x-request-id"]
        events = audit_events(running_suite, request_id, expected=2)
        producers = {event["producer"]: event for event in events}
        assert set(producers) == {"gateway", "profile"}, events
        object_level = producers["profile"]
        assert object_level["allowed"] is allowed_flag
        assert object_level["policy_version"]
        assert object_level["trace_id"] and len(object_level["trace_id"]) == 32
        assert object_level["decision_id"]
        # One trace spans gateway and service.
        assert producers["gateway"]["trace_id"] == object_level["trace_id"]
        if allowed_flag:
            assert object_level["matched_rule"] == "agent, *, customer.profile, read, L0, allow"
        else:
            assert object_level["domain"] == "bank"
            assert denied.json()["decision_id"] == object_level["decision_id"]
        assert producers["gateway"]["matched_rule"]
        assert producers["gateway"]["policy_version"] == object_level["policy_version"]


def test_direct_calls_to_services_are_refused(running_suite: RunningSuite) -> None:
    user_token = running_suite.token("agent.li")
    keys = running_suite.suite.var_dir / "keys"
    forged = jwt.encode(
        {
            "iss": "anxin-gateway",
            "sub": "agent.li",
            "aud": "anxin-profile",
            "iat": int(time.time()),
            "exp": int(time.time()) + 30,
            "kind": "user",
            "subsidiary": "life",
            "roles": ["agent"],
        },
        load_key(keys / "idp.key.pem"),
        algorithm="ES256",
        headers={"kid": "gateway"},
    )
    for service, path in (
        ("profile", "/api/v1/customers"),
        ("consent", "/api/v1/consent/notices"),
        ("identity", "/api/v1/calls/abc"),
        ("audit", "/api/v1/audit/events"),
    ):
        base = running_suite.suite.url(service)
        for headers in (
            {},
            {"authorization": f"Bearer {user_token}"},
            {"authorization": f"Bearer {forged}"},
            {"x-user": "agent.li", "x-roles": "supervisor", "x-subsidiary": "life"},
        ):
            response = running_suite.client.get(base + path, headers=headers)
            assert response.status_code == 401, (service, headers.keys(), response.text)
            assert response.json()["request_id"]


def test_policy_edit_changes_decisions_without_restart(running_suite: RunningSuite) -> None:
    policy_file = running_suite.policies_dir / "policy.csv"
    original = policy_file.read_text()
    before = running_suite.client.get(running_suite.gateway + "/readyz").json()["policy_version"]
    assert running_suite.get("/api/v1/audit/events", subject="agent.li").status_code == 403
    try:
        policy_file.write_text(original + "\np, agent, *, audit.event, read, L0, allow\n")
        deadline = time.monotonic() + 15
        status = 403
        while time.monotonic() < deadline and status != 200:
            time.sleep(0.3)
            status = running_suite.get(
                "/api/v1/audit/events?limit=1", subject="agent.li"
            ).status_code
        assert status == 200
        for service in SERVICES:
            version = running_suite.client.get(running_suite.suite.url(service) + "/readyz").json()[
                "policy_version"
            ]
            deadline = time.monotonic() + 10
            while version == before and time.monotonic() < deadline:
                time.sleep(0.3)
                version = running_suite.client.get(
                    running_suite.suite.url(service) + "/readyz"
                ).json()["policy_version"]
            assert version != before, service
    finally:
        policy_file.write_text(original)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if (
            running_suite.client.get(running_suite.gateway + "/readyz").json()["policy_version"]
            == before
        ):
            break
        time.sleep(0.3)
    assert running_suite.get("/api/v1/audit/events", subject="agent.li").status_code == 403


@pytest.mark.parametrize(
    ("method", "raw_path", "status"),
    [
        ("GET", "/api/v1/nope", 404),
        ("DELETE", "/api/v1/customers/C000001", 405),
        ("PUT", "/api/v1/audit/events", 405),
        ("GET", "/api/v1/customers/../audit/events", 400),
        ("GET", "/api/v1/customers/%2e%2e/audit/events", 400),
        ("GET", "/api/v1/customers%2fC000001", 400),
        ("GET", "/api/v1//customers", 400),
        ("GET", "/api/v1/customers;x=1", 400),
        ("GET", "/api/v1/customers\\C000001", 400),
        ("GET", "http://127.0.0.1/api/v1/customers", 400),
        ("GET", "/api/v1/customers/C000001/", 404),
        ("GET", "/API/V1/customers", 404),
        # Parameter pollution: a query parameter named twice.
        ("GET", "/api/v1/customers?limit=1&limit=500", 400),
        ("GET", "/api/v1/audit/events?occurred_from=&occurred_from=2026-01-01", 400),
    ],
)
def test_bad_paths_and_methods_are_problems(
    running_suite: RunningSuite, method: str, raw_path: str, status: int
) -> None:
    token = running_suite.token("agent.li")
    response = raw_request(running_suite, method, raw_path, token)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["request_id"]
    assert "Traceback" not in response.text


def test_bad_tokens_are_401_problems(running_suite: RunningSuite) -> None:
    keys = running_suite.suite.var_dir / "keys"
    idp = load_key(keys / "idp.key.pem")
    other = load_key(keys / "profile.key.pem")
    now = int(time.time())
    base = {
        "iss": "anxin-dev-idp",
        "sub": "agent.li",
        "aud": "anxin-gateway",
        "iat": now,
        "exp": now + 600,
        "subsidiary": "life",
    }
    tokens = {
        "expired": jwt.encode(
            {**base, "iat": now - 7200, "exp": now - 3600}, idp, algorithm="ES256"
        ),
        "wrong audience": jwt.encode({**base, "aud": "anxin-profile"}, idp, algorithm="ES256"),
        "no exp": jwt.encode({k: v for k, v in base.items() if k != "exp"}, idp, algorithm="ES256"),
        "forged key": jwt.encode(base, other, algorithm="ES256"),
        "garbage": "not.a.token",
    }
    for name, token in tokens.items():
        response = running_suite.client.get(
            running_suite.gateway + "/api/v1/customers",
            headers={"authorization": f"Bearer {token}"},
        )
        assert response.status_code == 401, name
        assert response.json()["request_id"]
    response = running_suite.client.get(running_suite.gateway + "/api/v1/customers")
    assert response.status_code == 401


def test_identity_headers_do_not_change_who_you_are(running_suite: RunningSuite) -> None:
    response = running_suite.get(
        "/api/v1/audit/events",
        subject="agent.li",
        headers={
            "x-user": "auditor.zheng",
            "x-roles": "internal_auditor",
            "x-subsidiary": "group",
            "x-http-method-override": "DELETE",
            "x-forwarded-for": "10.0.0.1",
        },
    )
    assert response.status_code == 403


def test_dev_subjects_cover_every_role(running_suite: RunningSuite) -> None:
    subjects = running_suite.client.get(running_suite.gateway + "/dev/subjects").json()
    roles = {role for subject in subjects for role in subject["roles"]}
    for role in (
        "agent",
        "senior_agent",
        "supervisor",
        "outsourced_agent",
        "quality_inspector",
        "security_admin",
        "internal_auditor",
        "data_steward",
        "subsidiary_client",
        "telephony",
    ):
        assert role in roles, role


def test_no_unmasked_numbers_leave_the_gateway(running_suite: RunningSuite) -> None:
    raw_numbers = set()
    for customer in generate_customers():
        raw_numbers.update(
            n
            for n in (
                customer.mobile,
                customer.id_number,
                customer.bank_account,
                customer.policy_number,
            )
            if n
        )
    texts = []
    for subject in (
        "agent.li",
        "supervisor.liu",
        "agent.wang",
        "contractor.sun",
        "life-claims-system",
        "steward.feng",
    ):
        response = running_suite.get("/api/v1/customers?limit=100", subject=subject)
        assert response.status_code in (200, 403), response.text
        texts.append(response.text)
    assert any('"items"' in text for text in texts)
    leaked = [number for number in raw_numbers if any(number in text for text in texts)]
    assert leaked == []


def test_audit_chain_verifies(running_suite: RunningSuite) -> None:
    response = running_suite.get("/api/v1/audit/chain/verify", subject="auditor.zheng")
    assert response.status_code == 200
    assert response.json()["ok"] is True
    assert response.json()["records"] > 0
