"""Verification of call sessions, in process: frictionless L1, knowledge, one-time codes,
lockouts, risk, the assurance policy file and the gateway's resolve endpoint.

Profile is a recorded `httpx.MockTransport` double speaking its internal API
contract; identity, its database, policy, outbox relay and dev SMS sink are real.
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import select

from anxin_identity.calls import assurance, repository, service
from anxin_identity.calls.models import CallAniWatchlist, CallOneTimeCode
from anxin_identity.main import create_app
from anxin_identity.settings import IdentitySettings
from anxin_identity.sms.gateway import read_sink
from anxin_shared.errors import Conflict, Forbidden
from anxin_shared.keys import load_key, private_key_path
from anxin_shared.principal import Principal
from anxin_shared.settings import ConfigurationError
from anxin_shared.tokens import TokenSigner

POLICIES_DIR = Path(__file__).resolve().parents[3] / "policies"
CALLS = "/api/v1/calls"
RESOLVE = "/internal/v1/call-sessions:resolve"
STAFF: dict[str, tuple[str, tuple[str, ...]]] = {
    "agent.li": ("life", ("agent",)),
    "senior.chen": ("life", ("agent", "senior_agent")),
    "agent.wang": ("bank", ("agent",)),
}
REGISTERED = "13912345678"  # C100001's registered mobile
SHARED = "13700000000"  # registered by three life customers
UNKNOWN = "13800000000"


@dataclass
class Customer:
    subsidiary: str
    mobile: str
    answers: dict[str, str]


@dataclass
class FakeProfile:
    """Profile's internal verification API (the contract in the brief), recorded."""

    customers: dict[str, Customer] = field(
        default_factory=lambda: {
            "C100001": Customer(
                "life", REGISTERED, {"id_last4": "123X", "birth_date": "1980-02-03"}
            ),
            "C100002": Customer("life", SHARED, {"id_last4": "0001"}),
            "C100003": Customer("life", SHARED, {"id_last4": "0002"}),
            "C100004": Customer("life", SHARED, {"id_last4": "0003"}),
            "C200001": Customer("bank", "13600000000", {"id_last4": "9999"}),
        }
    )
    devices: dict[str, str] = field(default_factory=lambda: {"app-install-77": "C100001"})
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    down: bool = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.port == 8004:  # the audit service takes every batch
            return httpx.Response(200, json={"stored": 0})
        if self.down:
            raise httpx.ConnectError("refused", request=request)
        assert request.headers["authorization"].startswith("Bearer ")
        body: Any = json.loads(request.content) if request.content else {}
        path = request.url.path
        self.requests.append((request.method, path, body))
        if path == "/internal/v1/contact-points:match":
            return self._matches(c for c, v in self.customers.items() if v.mobile == body["number"])
        if path == "/internal/v1/devices:match":
            owner = self.devices.get(body["device_id"])
            return self._matches([owner] if owner else [])
        parts = path.split("/")
        customer = self.customers.get(parts[4]) if len(parts) > 5 else None
        if customer is None and path.endswith("/exists"):
            return httpx.Response(200, json={"exists": False, "subsidiary": None})
        if customer is None:
            return httpx.Response(404, json={"detail": "no such customer"})
        if path.endswith("/exists"):
            return httpx.Response(200, json={"exists": True, "subsidiary": customer.subsidiary})
        if path.endswith("/knowledge-questions"):
            questions = [{"question_id": q, "prompt_zh": f"问题 {q}"} for q in customer.answers]
            return httpx.Response(200, json={"questions": questions})
        if path.endswith("/knowledge:check"):
            if body["question_id"] not in customer.answers:
                return httpx.Response(422, json={"detail": "unknown question_id"})
            expected = customer.answers[body["question_id"]]
            return httpx.Response(200, json={"correct": body["answer"].strip().upper() == expected})
        if path.endswith("/otp-destination"):
            return httpx.Response(200, json={"mobile": customer.mobile})
        return httpx.Response(404, json={})

    def _matches(self, ids: Any) -> httpx.Response:
        matches = [
            {
                "customer_id": customer_id,
                "subsidiary": self.customers[customer_id].subsidiary,
                "channel": "mobile",
                "first_seen": "2024-01-01T00:00:00Z",
            }
            for customer_id in ids
        ]
        return httpx.Response(200, json={"matches": matches})


@pytest.fixture
def profile() -> FakeProfile:
    return FakeProfile()


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    """A copy of the real policies folder, so a test may edit assurance.yaml."""
    target = tmp_path / "policies"
    shutil.copytree(POLICIES_DIR, target, ignore=shutil.ignore_patterns("tests"))
    return target


@pytest.fixture
def settings(tmp_path: Path, policies: Path) -> IdentitySettings:
    return IdentitySettings(
        env="dev",
        var_dir=tmp_path,
        policies_dir=policies,
        database_url=f"sqlite:///{tmp_path}/identity.db",
        outbox_interval_seconds=0.05,
    )


@pytest.fixture
def app(settings: IdentitySettings, profile: FakeProfile) -> FastAPI:
    return create_app(settings, http_transport=httpx.MockTransport(profile.handle))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def signer(settings: IdentitySettings, client: TestClient) -> TokenSigner:
    assert settings.keys_dir is not None
    key = load_key(private_key_path(Path(settings.keys_dir), "gateway"))
    return TokenSigner(issuer="anxin-gateway", key=key, kid="gateway")


def principal_of(subject: str) -> Principal:
    subsidiary, roles = STAFF[subject]
    return Principal(subject=subject, kind="user", subsidiary=subsidiary, roles=roles)


def as_agent(signer: TokenSigner, subject: str = "agent.li") -> dict[str, str]:
    claims = principal_of(subject).internal_claims()
    token = signer.mint(subject, "anxin-identity", 30, **claims)
    return {"authorization": f"Bearer {token}"}


def as_service(settings: IdentitySettings, service_name: str = "gateway") -> dict[str, str]:
    assert settings.keys_dir is not None
    key = load_key(private_key_path(Path(settings.keys_dir), service_name))
    issuer = TokenSigner(issuer=f"anxin-{service_name}", key=key, kid=service_name)
    token = issuer.mint(
        f"service:{service_name}", "anxin-identity", 30, kind="service", subsidiary="group"
    )
    return {"authorization": f"Bearer {token}"}


def open_call(
    client: TestClient, signer: TokenSigner, subject: str = "agent.li", **body: Any
) -> dict[str, Any]:
    payload = {"ani": REGISTERED, "channel": "voice", "attestation": "A", **body}
    response = client.post(CALLS, json=payload, headers=as_agent(signer, subject))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def answer(
    client: TestClient,
    signer: TokenSigner,
    call_id: str,
    question: str,
    text: str,
    who: str = "agent.li",
) -> httpx.Response:
    return client.post(
        f"{CALLS}/{call_id}/knowledge-answers",
        json={"question_id": question, "answer": text},
        headers=as_agent(signer, who),
    )


def factor(view: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [f for f in view["factors"] if f["factor"] == name]
    return found


def wait_for_sms(settings: IdentitySettings, reference: str) -> dict[str, str]:
    """Poll the dev sink until the relay delivered the message (bounded, not timed)."""
    assert settings.sms_sink_path is not None
    for _ in range(200):
        for message in read_sink(settings.sms_sink_path):
            if message["reference"] == reference:
                return message
        time.sleep(0.05)
    raise AssertionError("the SMS never reached the dev sink")


def code_in(message: dict[str, str]) -> str:
    after = message["text"].split("验证码为", 1)[1]
    return after[: len(after) - len(after.lstrip("0123456789"))]


# --------------------------------------------------------------------------- frictionless L1


def test_registered_number_with_attestation_a_reaches_l1(
    client: TestClient, signer: TokenSigner, profile: FakeProfile
) -> None:
    created = open_call(client, signer)

    assert created["assurance_level"] == "L1"
    assert (created["customer_id"], created["link_source"]) == ("C100001", "ani")
    assert factor(created, "registered_ani")["satisfied"] is True
    assert created["risk_score"] == 0 and created["risk_reasons"] == []
    # The raw number went to profile in the body only, never in a path.
    assert ("POST", "/internal/v1/contact-points:match", {"number": REGISTERED}) in profile.requests
    assert all(REGISTERED not in path for _, path, _ in profile.requests)


@pytest.mark.parametrize(
    "attestation, signal", [("B", "attestation_b"), ("C", "attestation_c"), (None, "attestation_c")]
)
def test_weaker_or_missing_attestation_links_but_stays_l0_with_a_risk_reason(
    attestation: str | None, signal: str, client: TestClient, signer: TokenSigner
) -> None:
    created = open_call(client, signer, attestation=attestation)

    assert created["customer_id"] == "C100001"
    assert created["assurance_level"] == "L0"
    assert factor(created, "registered_ani")["satisfied"] is False
    assert [reason["signal"] for reason in created["risk_reasons"]] == [signal]
    assert created["risk_reasons"][0]["reason_zh"]
    assert created["risk_score"] > 0


def test_unknown_number_stays_unlinked_at_l0(client: TestClient, signer: TokenSigner) -> None:
    created = open_call(client, signer, ani=UNKNOWN)
    assert (created["customer_id"], created["assurance_level"]) == (None, "L0")


def test_known_device_reaches_l1(client: TestClient, signer: TokenSigner) -> None:
    created = open_call(client, signer, ani=UNKNOWN, device_id="app-install-77")

    assert (created["customer_id"], created["link_source"]) == ("C100001", "device")
    assert created["assurance_level"] == "L1"
    assert factor(created, "known_device")["satisfied"] is True


def test_number_of_many_customers_is_a_risk_and_the_caller_identifies(
    client: TestClient, signer: TokenSigner
) -> None:
    created = open_call(client, signer, ani=SHARED)
    assert created["customer_id"] is None
    assert created["candidate_count"] == 3
    assert "ani_many_customers" in [r["signal"] for r in created["risk_reasons"]]

    linked = client.put(
        f"{CALLS}/{created['id']}/customer",
        json={"customer_id": "C100003"},
        headers=as_agent(signer),
    )

    assert linked.status_code == 200, linked.text
    body = linked.json()
    assert (body["customer_id"], body["link_source"]) == ("C100003", "identifier")
    # The number is registered to C100003 too, with attestation A.
    assert body["assurance_level"] == "L1"
    assert body["version"] > created["version"]


def test_an_identifier_of_another_subsidiary_or_nobody_is_refused(
    app: FastAPI, client: TestClient, signer: TokenSigner
) -> None:
    created = open_call(client, signer, ani=UNKNOWN)
    responses = [
        client.put(
            f"{CALLS}/{created['id']}/customer",
            json={"customer_id": customer_id},
            headers=as_agent(signer),
        )
        for customer_id in ("C200001", "C999999")
    ]
    assert [r.status_code for r in responses] == [422, 422]
    assert responses[0].json()["detail"] == responses[1].json()["detail"]
    with app.state.runtime.database.session() as session:
        assert repository.get_call_session(session, created["id"]).customer_id is None  # type: ignore[union-attr]


def test_identifier_given_at_opening_links_without_l1_from_an_unrelated_number(
    client: TestClient, signer: TokenSigner
) -> None:
    created = open_call(client, signer, ani=UNKNOWN, customer_id="C100001")
    assert (created["customer_id"], created["link_source"]) == ("C100001", "identifier")
    assert created["assurance_level"] == "L0"


def test_outbound_calls_open_sessions_too(client: TestClient, signer: TokenSigner) -> None:
    created = open_call(client, signer, direction="outbound", customer_id="C100001")
    assert created["direction"] == "outbound"
    assert created["customer_id"] == "C100001"


def test_profile_down_fails_closed_and_stores_nothing(
    app: FastAPI, client: TestClient, signer: TokenSigner, profile: FakeProfile
) -> None:
    profile.down = True
    response = client.post(
        CALLS,
        json={"ani": REGISTERED, "channel": "voice", "attestation": "A"},
        headers=as_agent(signer),
    )
    assert response.status_code == 503
    with sqlite3.connect(Path(app.state.runtime.database.url.split("///")[1])) as connection:
        assert connection.execute("SELECT count(*) FROM call_session").fetchone() == (0,)


# --------------------------------------------------------------------------- knowledge questions


def test_questions_come_without_answers(client: TestClient, signer: TokenSigner) -> None:
    created = open_call(client, signer)
    response = client.get(f"{CALLS}/{created['id']}/knowledge-questions", headers=as_agent(signer))
    assert response.status_code == 200
    body = response.json()
    assert [q["question_id"] for q in body["questions"]] == ["id_last4", "birth_date"]
    assert "123X" not in response.text and "1980-02-03" not in response.text


def test_two_correct_answers_reach_l2_and_answers_are_never_echoed(
    client: TestClient, signer: TokenSigner, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    created = open_call(client, signer)

    first = answer(client, signer, created["id"], "id_last4", " 123x ")
    repeat = answer(client, signer, created["id"], "id_last4", "123X")
    second = answer(client, signer, created["id"], "birth_date", "1980-02-03")

    assert first.status_code == 200, first.text
    assert first.json()["correct"] is True
    # One question answered (twice) is not yet the factor (min_successes: 2).
    assert repeat.json()["session"]["assurance_level"] == "L1"
    assert factor(repeat.json()["session"], "knowledge")["successes"] == 1
    assert second.json()["session"]["assurance_level"] == "L2"
    assert factor(second.json()["session"], "knowledge")["satisfied"] is True
    for response in (first, repeat, second):
        assert "123X" not in response.text.upper() and "1980-02-03" not in response.text
    assert "123X" not in caplog.text and "1980-02-03" not in caplog.text


def test_n_wrong_answers_lock_the_factor_and_the_locked_attempt_changes_nothing(
    app: FastAPI, client: TestClient, signer: TokenSigner, profile: FakeProfile
) -> None:
    created = open_call(client, signer)
    wrong = [answer(client, signer, created["id"], "id_last4", "0000") for _ in range(3)]
    assert [r.json()["correct"] for r in wrong] == [False, False, False]
    assert factor(wrong[1].json()["session"], "knowledge")["locked"] is False
    assert factor(wrong[2].json()["session"], "knowledge")["locked"] is True
    assert "repeated_failures" in [r["signal"] for r in wrong[2].json()["session"]["risk_reasons"]]
    checks_before = len([p for _, p, _ in profile.requests if p.endswith("knowledge:check")])

    locked = answer(client, signer, created["id"], "id_last4", "123X")

    assert locked.status_code == 409
    assert locked.headers["content-type"] == "application/problem+json"
    assert locked.json()["factor"] == "knowledge"
    assert "locked" in locked.json()["detail"]
    assert locked.json()["locked_until"]
    # Not even asked: the profile saw no fourth check, and no attempt was stored.
    assert (
        len([p for _, p, _ in profile.requests if p.endswith("knowledge:check")]) == checks_before
    )
    with app.state.runtime.database.session() as session:
        assert len(repository.attempts_of_session(session, created["id"])) == 4  # 1 ANI + 3 wrong
    # Other factors are not locked by it.
    sent = client.post(f"{CALLS}/{created['id']}/codes", headers=as_agent(signer))
    assert sent.status_code == 202


def test_the_lock_follows_the_customer_into_a_new_session(
    client: TestClient, signer: TokenSigner
) -> None:
    first = open_call(client, signer)
    for _ in range(3):
        answer(client, signer, first["id"], "id_last4", "0000")
    second = open_call(client, signer)

    assert factor(second, "knowledge")["locked"] is True
    response = answer(client, signer, second["id"], "birth_date", "1980-02-03")
    assert response.status_code == 409


def test_lockout_n_and_window_come_from_the_assurance_policy(
    client: TestClient, signer: TokenSigner, policies: Path
) -> None:
    path = policies / "assurance.yaml"
    path.write_text(path.read_text().replace("max_failures: 3", "max_failures: 2"))
    created = open_call(client, signer)

    answer(client, signer, created["id"], "id_last4", "0000")
    second = answer(client, signer, created["id"], "id_last4", "0000")

    assert factor(second.json()["session"], "knowledge")["locked"] is True
    assert answer(client, signer, created["id"], "id_last4", "123X").status_code == 409


def test_an_unknown_question_is_a_problem_and_not_a_failure(
    client: TestClient, signer: TokenSigner
) -> None:
    created = open_call(client, signer)
    response = answer(client, signer, created["id"], "mothers_maiden", "x")
    assert response.status_code == 422
    view = client.get(f"{CALLS}/{created['id']}", headers=as_agent(signer)).json()
    assert factor(view, "knowledge")["failures"] == 0


def test_factors_need_a_linked_customer(client: TestClient, signer: TokenSigner) -> None:
    created = open_call(client, signer, ani=UNKNOWN)
    response = answer(client, signer, created["id"], "id_last4", "123X")
    assert response.status_code == 409
    assert "link" in response.json()["detail"]


# --------------------------------------------------------------------------- one-time codes


def test_one_time_code_through_the_dev_sink_reaches_l2_and_a_replay_is_refused(
    app: FastAPI,
    client: TestClient,
    signer: TokenSigner,
    settings: IdentitySettings,
    tmp_path: Path,
) -> None:
    created = open_call(client, signer)
    sent = client.post(f"{CALLS}/{created['id']}/codes", headers=as_agent(signer))
    assert sent.status_code == 202, sent.text
    code_id = sent.json()["code_id"]
    message = wait_for_sms(settings, code_id)
    code = code_in(message)
    assert len(code) == 6
    assert code not in sent.text
    assert message["to_masked"] == "139****5678"

    verified = client.post(
        f"{CALLS}/{created['id']}/codes/verify", json={"code": code}, headers=as_agent(signer)
    )
    replayed = client.post(
        f"{CALLS}/{created['id']}/codes/verify", json={"code": code}, headers=as_agent(signer)
    )

    assert verified.status_code == 200, verified.text
    assert verified.json()["correct"] is True
    assert verified.json()["session"]["assurance_level"] == "L2"
    assert replayed.status_code == 409
    assert replayed.json()["reason"] == "code_used"
    # Only a keyed hash is stored: the code appears nowhere in the database files.
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("identity.db*"))
    assert code.encode() not in stored
    with app.state.runtime.database.session() as session:
        [row] = session.exec(select(CallOneTimeCode)).all()
        assert row.used_at is not None and len(row.code_hash) == 64
    # The registered mobile itself never reached identity's database or outbox.
    assert REGISTERED.encode() not in stored


def test_wrong_codes_count_and_lock(
    client: TestClient, signer: TokenSigner, settings: IdentitySettings
) -> None:
    created = open_call(client, signer)
    sent = client.post(f"{CALLS}/{created['id']}/codes", headers=as_agent(signer)).json()
    code = code_in(wait_for_sms(settings, sent["code_id"]))
    wrong = "0" * 6 if code != "0" * 6 else "1" * 6
    results = [
        client.post(
            f"{CALLS}/{created['id']}/codes/verify", json={"code": wrong}, headers=as_agent(signer)
        )
        for _ in range(3)
    ]
    assert [r.json()["correct"] for r in results] == [False, False, False]

    right_but_locked = client.post(
        f"{CALLS}/{created['id']}/codes/verify", json={"code": code}, headers=as_agent(signer)
    )
    assert right_but_locked.status_code == 409
    assert right_but_locked.json()["factor"] == "otp"


def test_an_expired_code_is_refused(
    client: TestClient, signer: TokenSigner, settings: IdentitySettings, tmp_path: Path
) -> None:
    created = open_call(client, signer)
    sent = client.post(f"{CALLS}/{created['id']}/codes", headers=as_agent(signer)).json()
    code = code_in(wait_for_sms(settings, sent["code_id"]))
    with sqlite3.connect(tmp_path / "identity.db") as connection:
        connection.execute(
            "UPDATE call_one_time_code SET expires_at = '2020-01-01 00:00:00.000000'"
        )
    response = client.post(
        f"{CALLS}/{created['id']}/codes/verify", json={"code": code}, headers=as_agent(signer)
    )
    assert response.status_code == 409
    assert response.json()["reason"] == "code_expired"


def test_code_sending_is_throttled(client: TestClient, signer: TokenSigner) -> None:
    created = open_call(client, signer)
    statuses = [
        client.post(f"{CALLS}/{created['id']}/codes", headers=as_agent(signer)).status_code
        for _ in range(4)
    ]
    assert statuses == [202, 202, 202, 429]


def test_knowledge_plus_code_reaches_l3(
    client: TestClient, signer: TokenSigner, settings: IdentitySettings
) -> None:
    created = open_call(client, signer)
    answer(client, signer, created["id"], "id_last4", "123X")
    answer(client, signer, created["id"], "birth_date", "1980-02-03")
    sent = client.post(f"{CALLS}/{created['id']}/codes", headers=as_agent(signer)).json()
    code = code_in(wait_for_sms(settings, sent["code_id"]))
    verified = client.post(
        f"{CALLS}/{created['id']}/codes/verify", json={"code": code}, headers=as_agent(signer)
    )
    assert verified.json()["session"]["assurance_level"] == "L3"


# --------------------------------------------------------------------------- record_factor (voice)


def test_voiceprint_alone_reaches_nothing_but_adds_l3_to_l2(
    app: FastAPI, client: TestClient, signer: TokenSigner
) -> None:
    created = open_call(client, signer)
    database = app.state.runtime.database
    with database.session() as session:
        alone = service.record_factor(session, created["id"], "agent.li", "voiceprint", True)
    assert alone.assurance_level == "L1"
    answer(client, signer, created["id"], "id_last4", "123X")
    answer(client, signer, created["id"], "birth_date", "1980-02-03")
    view = client.get(f"{CALLS}/{created['id']}", headers=as_agent(signer)).json()
    assert view["assurance_level"] == "L3"


def test_a_voiceprint_watchlist_hit_caps_the_level_and_is_a_risk(
    app: FastAPI, client: TestClient, signer: TokenSigner
) -> None:
    created = open_call(client, signer)
    with app.state.runtime.database.session() as session:
        view = service.record_factor(
            session,
            created["id"],
            "agent.li",
            "voiceprint",
            False,
            {"watchlist_hit": True, "score": 0.91},
        )
    assert view.assurance_level == "L0"
    assert "voiceprint_watchlist_hit" in [r.signal for r in view.risk_reasons]
    assert view.risk_score == 100


def test_get_owned_session_refuses_others_alike_and_expired_with_a_problem(
    app: FastAPI, client: TestClient, signer: TokenSigner, tmp_path: Path
) -> None:
    created = open_call(client, signer)
    database = app.state.runtime.database
    with database.session() as session:
        assert service.get_owned_session(session, created["id"], "agent.li").id == created["id"]
        refusals = []
        for agent, call_id in (("senior.chen", created["id"]), ("agent.li", "nope")):
            with pytest.raises(Forbidden) as refused:
                service.get_owned_session(session, call_id, agent)
            refusals.append(refused.value.detail)
        assert refusals[0] == refusals[1]
    with sqlite3.connect(tmp_path / "identity.db") as connection:
        connection.execute("UPDATE call_session SET expires_at = '2020-01-01 00:00:00.000000'")
    with database.session() as session, pytest.raises(Conflict) as expired:
        service.record_factor(session, created["id"], "agent.li", "voiceprint", True)
    assert "expired" in expired.value.detail


# ------------------------------------------------------------- another agent, expiry, close


def test_another_agent_cannot_use_the_session(
    app: FastAPI, client: TestClient, signer: TokenSigner
) -> None:
    created = open_call(client, signer)
    attempts = [
        answer(client, signer, created["id"], "id_last4", "123X", who="senior.chen"),
        client.post(f"{CALLS}/{created['id']}/codes", headers=as_agent(signer, "agent.wang")),
        client.put(
            f"{CALLS}/{created['id']}/customer",
            json={"customer_id": "C100002"},
            headers=as_agent(signer, "senior.chen"),
        ),
        client.post(f"{CALLS}/{created['id']}/close", headers=as_agent(signer, "senior.chen")),
        answer(client, signer, "no-such-session", "id_last4", "123X"),
    ]
    assert [r.status_code for r in attempts] == [403] * 5
    assert len({r.json()["detail"] for r in attempts}) == 1
    view = client.get(f"{CALLS}/{created['id']}", headers=as_agent(signer)).json()
    assert view["status"] == "open"
    assert view["customer_id"] == "C100001"
    assert all(f["failures"] == 0 for f in view["factors"])


def test_an_expired_session_takes_no_answer(
    client: TestClient, signer: TokenSigner, tmp_path: Path
) -> None:
    created = open_call(client, signer)
    with sqlite3.connect(tmp_path / "identity.db") as connection:
        connection.execute("UPDATE call_session SET expires_at = '2020-01-01 00:00:00.000000'")
    response = answer(client, signer, created["id"], "id_last4", "123X")
    assert response.status_code == 409
    assert response.json()["call_status"] == "expired"


def test_a_closed_session_takes_nothing(client: TestClient, signer: TokenSigner) -> None:
    created = open_call(client, signer)
    closed = client.post(f"{CALLS}/{created['id']}/close", headers=as_agent(signer))
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"
    assert closed.json()["closed_at"]
    later = answer(client, signer, created["id"], "id_last4", "123X")
    assert later.status_code == 409
    assert later.json()["call_status"] == "closed"


# --------------------------------------------------------------------------- the gateway's resolve


def resolve(
    client: TestClient,
    settings: IdentitySettings,
    call_id: str,
    subject: str = "agent.li",
    **extra: Any,
) -> httpx.Response:
    subsidiary, roles = STAFF[subject]
    return client.post(
        RESOLVE,
        json={
            "call_session": call_id,
            "subject": subject,
            "subsidiary": subsidiary,
            "roles": list(roles),
            **extra,
        },
        headers=as_service(settings),
    )


def test_resolve_lends_the_level_and_customer_to_the_owner_only(
    client: TestClient, signer: TokenSigner, settings: IdentitySettings
) -> None:
    created = open_call(client, signer)

    own = resolve(client, settings, created["id"])
    other = resolve(client, settings, created["id"], "senior.chen")
    unknown = resolve(client, settings, "no-such-session")

    assert own.status_code == 200
    lease_terms = {"decision_id": None, "expires_at": None, "fingerprint": None}
    assert own.json()["change_seq"] >= 1  # opening the session was a change
    assert own.json() | lease_terms | {"change_seq": None} == {
        "usable": True,
        "reason": "ok",
        "call_session": created["id"],
        "version": created["version"],
        "assurance_level": "L1",
        "verified_customer": "C100001",
        "expires_at": None,
        "decision_id": None,
        "change_seq": None,
        "fingerprint": None,
    }
    assert (other.json()["usable"], other.json()["reason"]) == (False, "no_access")
    assert (unknown.json()["usable"], unknown.json()["reason"]) == (False, "no_access")
    assert other.json().get("assurance_level") == "L0"


def test_resolve_answers_unchanged_until_the_version_moves(
    client: TestClient, signer: TokenSigner, settings: IdentitySettings
) -> None:
    created = open_call(client, signer)
    first = resolve(client, settings, created["id"]).json()

    same = resolve(client, settings, created["id"], known_version=first["version"]).json()
    answer(client, signer, created["id"], "id_last4", "123X")
    answer(client, signer, created["id"], "birth_date", "1980-02-03")
    moved = resolve(client, settings, created["id"], known_version=first["version"]).json()

    assert same["reason"] == "unchanged" and same["version"] == first["version"]
    assert moved["reason"] == "ok" and moved["version"] > first["version"]
    assert moved["assurance_level"] == "L2"


def test_an_assurance_policy_edit_moves_the_level_and_the_version(
    client: TestClient, signer: TokenSigner, settings: IdentitySettings, policies: Path
) -> None:
    created = open_call(client, signer)
    first = resolve(client, settings, created["id"]).json()
    path = policies / "assurance.yaml"
    path.write_text(path.read_text().replace("    - [registered_ani]\n", "", 1))

    after = resolve(client, settings, created["id"], known_version=first["version"]).json()

    assert first["assurance_level"] == "L1"
    assert after["reason"] == "ok" and after["version"] > first["version"]
    assert (after["assurance_level"], after["verified_customer"]) == ("L0", None)


CHANGES = "/internal/v1/call-sessions/changes"


def changes(
    client: TestClient, settings: IdentitySettings, after: int | None, service_name: str = "gateway"
) -> httpx.Response:
    params = {} if after is None else {"after": after}
    return client.get(CHANGES, params=params, headers=as_service(settings, service_name))


def test_every_change_of_a_session_is_in_the_feed_the_gateway_leases_on(
    client: TestClient, signer: TokenSigner, settings: IdentitySettings, policies: Path
) -> None:
    start = changes(client, settings, None).json()
    created = open_call(client, signer)
    lent = resolve(client, settings, created["id"]).json()
    answered = client.post(
        f"{CALLS}/{created['id']}/knowledge-answers",
        json={"question_id": "id_last4", "answer": "123X"},
        headers=as_agent(signer),
    )
    client.post(f"{CALLS}/{created['id']}/close", headers=as_agent(signer))
    after = changes(client, settings, lent["change_seq"]).json()
    path = policies / "assurance.yaml"
    path.write_text(path.read_text().replace("    - [registered_ani]\n", "", 1))
    edited = changes(client, settings, after["seq"]).json()
    refused = changes(client, settings, 0, "profile")

    assert start["changes"] == [] and start["complete"] is True
    assert answered.status_code == 200
    newer = [seq for seq, session_id in after["changes"] if session_id == created["id"]]
    # The answer and the close are changes newer than the lease's, in order.
    assert len([seq for seq in newer if seq > lent["change_seq"]]) >= 2
    assert after["seq"] == max(newer) and after["complete"] is True
    assert lent["fingerprint"] == after["fingerprint"]
    # An assurance policy edit moves the fingerprint: every lease on the old rules ends.
    assert edited["fingerprint"] != after["fingerprint"]
    # Recent changes are sent again (a late commit is not missed); the number never goes back.
    assert edited["seq"] == after["seq"] and edited["changes"] == after["changes"]
    assert refused.status_code == 403  # only the gateway follows the feed


def test_resolve_reports_expired_and_closed(
    client: TestClient, signer: TokenSigner, settings: IdentitySettings, tmp_path: Path
) -> None:
    expiring = open_call(client, signer)
    closing = open_call(client, signer)
    with sqlite3.connect(tmp_path / "identity.db") as connection:
        connection.execute(
            "UPDATE call_session SET expires_at = '2020-01-01 00:00:00.000000' WHERE id = ?",
            (expiring["id"],),
        )
    client.post(f"{CALLS}/{closing['id']}/close", headers=as_agent(signer))
    first = resolve(client, settings, expiring["id"], known_version=expiring["version"]).json()
    second = resolve(client, settings, closing["id"]).json()

    assert (first["usable"], first["reason"]) == (False, "expired")
    assert (second["usable"], second["reason"]) == (False, "closed")


def test_resolve_is_for_the_gateway_service_only(
    client: TestClient, signer: TokenSigner, settings: IdentitySettings
) -> None:
    created = open_call(client, signer)
    body = {"call_session": created["id"], "subject": "agent.li", "subsidiary": "life"}
    by_consent = client.post(RESOLVE, json=body, headers=as_service(settings, "consent"))
    by_agent = client.post(RESOLVE, json=body, headers=as_agent(signer))
    assert by_consent.status_code == 403
    assert by_agent.status_code == 401


# --------------------------------------------------------------------------- ANI watchlist, floods


def test_a_watchlisted_number_is_a_risk_and_caps_the_level(
    app: FastAPI, client: TestClient, signer: TokenSigner, settings: IdentitySettings
) -> None:
    with app.state.runtime.database.session() as session:
        repository.add_ani_watch(
            session,
            CallAniWatchlist(
                ani_hash=service.ani_hash(REGISTERED, settings.ani_key),
                label="case-2026-17",
                added_at=service.utcnow(),
            ),
        )
    created = open_call(client, signer, ani="+86" + REGISTERED)
    assert created["assurance_level"] == "L0"
    assert "ani_watchlist" in [r["signal"] for r in created["risk_reasons"]]


def test_the_watchlist_file_is_loaded_as_keyed_hashes_at_start(
    tmp_path: Path, policies: Path, profile: FakeProfile, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    listing = tmp_path / "ani-watchlist.txt"
    listing.write_text(f"# fraud cases\n+86{REGISTERED}, case-17\nnot-a-number-4242\n")
    settings = IdentitySettings(
        env="dev",
        var_dir=tmp_path,
        policies_dir=policies,
        database_url=f"sqlite:///{tmp_path}/identity.db",
        ani_watchlist_file=listing,
    )
    app = create_app(settings, http_transport=httpx.MockTransport(profile.handle))
    with TestClient(app) as client:
        assert settings.keys_dir is not None
        key = load_key(private_key_path(Path(settings.keys_dir), "gateway"))
        signer = TokenSigner(issuer="anxin-gateway", key=key, kid="gateway")
        created = open_call(client, signer)
        clean = open_call(client, signer, ani=UNKNOWN)
    assert created["assurance_level"] == "L0"
    assert "ani_watchlist" in [r["signal"] for r in created["risk_reasons"]]
    assert clean["risk_reasons"] == []
    assert "1 line(s)" in caplog.text and "4242" not in caplog.text
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("identity.db*"))
    assert REGISTERED.encode() not in stored


def test_opening_floods_are_throttled(
    client: TestClient, signer: TokenSigner, policies: Path
) -> None:
    path = policies / "assurance.yaml"
    path.write_text(
        path.read_text().replace("max_sessions_per_agent: 30", "max_sessions_per_agent: 2")
    )
    payload = {"ani": UNKNOWN, "channel": "voice", "attestation": "A"}
    statuses = [
        client.post(CALLS, json=payload, headers=as_agent(signer)).status_code for _ in range(3)
    ]
    other = client.post(CALLS, json=payload, headers=as_agent(signer, "senior.chen"))
    assert statuses == [201, 201, 429]
    assert other.status_code == 201


def test_attempt_floods_in_one_session_are_throttled(
    client: TestClient, signer: TokenSigner, policies: Path
) -> None:
    path = policies / "assurance.yaml"
    text = path.read_text().replace("max_attempts_per_session: 20", "max_attempts_per_session: 3")
    path.write_text(text.replace("max_failures: 3", "max_failures: 50"))
    created = open_call(client, signer)  # the frictionless ANI factor is attempt 1
    statuses = [
        answer(client, signer, created["id"], "id_last4", "0000").status_code for _ in range(3)
    ]
    assert statuses == [200, 200, 429]


# --------------------------------------------------------------------------- the assurance policy


def test_the_assurance_file_decides_the_levels(policies: Path) -> None:
    source = assurance.AssuranceSource(policies)
    policy = source.current()
    assert policy.level_for(set()) == "L0"
    assert policy.level_for({"registered_ani"}) == "L1"
    assert policy.level_for({"registered_ani", "voiceprint"}) == "L1"
    assert policy.level_for({"otp"}) == "L2"
    assert policy.level_for({"otp", "voiceprint"}) == "L3"
    assert policy.level_for({"knowledge", "otp"}) == "L3"
    assert policy.level_for({"knowledge", "otp"}, ["L1"]) == "L1"

    path = policies / "assurance.yaml"
    path.write_text(path.read_text().replace("    - [otp]\n", "    - [otp, known_device]\n", 1))
    assert source.current().level_for({"otp"}) == "L0"


@pytest.mark.parametrize(
    "broken",
    [
        "not: [valid",
        "factors: {}\nlevels: {}",
        "factors: {telepathy: {}}\nlevels: {L1: [[telepathy]]}",
        "factors: {otp: {}}\nlevels: {L9: [[otp]]}",
        "factors: {otp: {}}\nlevels: {L2: [[knowledge]]}",
        "factors: {otp: {}}\nlevels: {L2: [[otp]]}\nlockout: {max_failures: 0}",
    ],
)
def test_a_broken_assurance_file_keeps_the_last_good_one_or_fails_closed(
    broken: str, policies: Path, tmp_path: Path
) -> None:
    path = policies / "assurance.yaml"
    good = assurance.AssuranceSource(policies)
    assert good.current().level_for({"otp"}) == "L2"
    original = path.read_text()
    path.write_text(broken)
    assert good.current().level_for({"otp"}) == "L2"
    path.write_text(original)

    fresh_dir = tmp_path / "fresh"
    fresh_dir.mkdir()
    (fresh_dir / "assurance.yaml").write_text(broken)
    with pytest.raises(assurance.DependencyUnavailable):
        assurance.AssuranceSource(fresh_dir).current()


# --------------------------------------------------------------------------- settings


PROD = {
    "env": "prod",
    "database_url": "postgresql+psycopg://a@127.0.0.1:1/identity",
    "voiceprint_key": "v" * 44,
}


@pytest.mark.parametrize(
    "overrides, complaint",
    [
        ({}, "ANI_HASH_KEY"),
        ({"ani_hash_key": "k" * 32}, "OTP_KEY"),
        ({"ani_hash_key": "anxin-dev-ani-hash-key-not-for-production"}, "ANI_HASH_KEY"),
        ({"ani_hash_key": "short", "otp_key": "o" * 32}, "too short"),
        ({"ani_hash_key": "k" * 32, "otp_key": "o" * 32, "sms_gateway": "dev-sink"}, "sink"),
        ({"ani_hash_key": "k" * 32, "otp_key": "o" * 32, "sms_gateway": "http"}, "URL"),
    ],
)
def test_production_refuses_dev_keys_and_the_dev_sms_sink(
    overrides: dict[str, str], complaint: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigurationError, match=complaint):
        IdentitySettings(var_dir=tmp_path, keys_dir=tmp_path / "no-keys", **PROD, **overrides)  # type: ignore[arg-type]


def test_production_starts_with_its_own_keys_and_an_sms_vendor(tmp_path: Path) -> None:
    settings = IdentitySettings(
        var_dir=tmp_path,
        keys_dir=tmp_path / "no-keys",
        **PROD,  # type: ignore[arg-type]
        ani_hash_key="k" * 32,  # type: ignore[arg-type]
        otp_key="o" * 32,  # type: ignore[arg-type]
        sms_gateway="http",
        sms_gateway_url="https://sms.example.cn/send",
    )
    assert settings.sms_gateway == "http"
    assert "k" * 32 not in repr(settings)


def test_production_reads_its_keys_from_the_keys_dir_and_sends_no_sms_by_default(
    tmp_path: Path,
) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "ani-hash.key").write_text("a" * 40 + "\n")
    (keys / "otp.key").write_text("b" * 40)
    settings = IdentitySettings(var_dir=tmp_path, keys_dir=keys, **PROD)  # type: ignore[arg-type]
    assert (settings.ani_key, settings.code_key) == ("a" * 40, "b" * 40)
    assert settings.sms_gateway == "none"


def test_without_an_sms_gateway_no_code_is_issued(
    tmp_path: Path, policies: Path, profile: FakeProfile
) -> None:
    settings = IdentitySettings(
        env="dev",
        var_dir=tmp_path,
        policies_dir=policies,
        database_url=f"sqlite:///{tmp_path}/identity.db",
        sms_gateway="none",
    )
    app = create_app(settings, http_transport=httpx.MockTransport(profile.handle))
    with TestClient(app) as client:
        assert settings.keys_dir is not None
        key = load_key(private_key_path(Path(settings.keys_dir), "gateway"))
        signer = TokenSigner(issuer="anxin-gateway", key=key, kid="gateway")
        created = open_call(client, signer)
        response = client.post(f"{CALLS}/{created['id']}/codes", headers=as_agent(signer))
    assert response.status_code == 503
    with sqlite3.connect(tmp_path / "identity.db") as connection:
        assert connection.execute("SELECT count(*) FROM call_one_time_code").fetchone() == (0,)
