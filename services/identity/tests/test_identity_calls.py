"""The call-session API, in process, against a real SQLite file and real gateway-style tokens."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import select

from anxin_identity.calls.models import CallSession
from anxin_identity.main import create_app
from anxin_identity.settings import IdentitySettings
from anxin_shared.audit_event import AUDIT_TOPIC
from anxin_shared.keys import load_key, private_key_path
from anxin_shared.outbox import OutboxEvent
from anxin_shared.policy import PolicyEngine
from anxin_shared.principal import Principal
from anxin_shared.tokens import TokenSigner

POLICIES_DIR = Path(__file__).resolve().parents[3] / "policies"
AUDIENCE = "anxin-identity"
CALLS = "/api/v1/calls"
# Seeded staff (policies/policy.csv), with the subsidiary and roles the gateway derives.
STAFF: dict[str, tuple[str, tuple[str, ...]]] = {
    "agent.li": ("life", ("agent",)),
    "agent.zhang": ("pc", ("agent",)),
    "agent.wang": ("bank", ("agent",)),
    "senior.chen": ("life", ("agent", "senior_agent")),
    "auditor.zheng": ("group", ("internal_auditor",)),
}
MOBILE = "13912345678"
NEW_CALL = {"ani": MOBILE, "channel": "voice", "attestation": "A"}
PER_REQUEST_KEYS = ("request_id", "trace_id", "decision_id")


@pytest.fixture
def settings(tmp_path: Path) -> IdentitySettings:
    return IdentitySettings(
        env="dev",
        var_dir=tmp_path,
        policies_dir=POLICIES_DIR,
        database_url=f"sqlite:///{tmp_path}/identity.db",
    )


def no_profile_matches(request: httpx.Request) -> httpx.Response:
    """A profile double that knows no number or device (and an audit that takes anything)."""
    if request.url.path.endswith(":match"):
        return httpx.Response(200, json={"matches": []})
    return httpx.Response(200, json={"stored": 0})


@pytest.fixture
def app(settings: IdentitySettings) -> FastAPI:
    return create_app(settings, http_transport=httpx.MockTransport(no_profile_matches))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def keys_dir(settings: IdentitySettings, client: TestClient) -> Path:
    """The dev keys the lifespan generated (hence the dependency on `client`)."""
    assert settings.keys_dir is not None
    return Path(settings.keys_dir)


@pytest.fixture
def gateway(keys_dir: Path) -> TokenSigner:
    return TokenSigner(
        issuer="anxin-gateway", key=load_key(private_key_path(keys_dir, "gateway")), kid="gateway"
    )


def principal_of(subject: str) -> Principal:
    subsidiary, roles = STAFF[subject]
    return Principal(
        subject=subject,
        kind="user",
        subsidiary=subsidiary,
        roles=roles,
        decision_id=uuid.uuid4().hex,
        request_id=uuid.uuid4().hex,
    )


def bearer(signer: TokenSigner, subject: str, audience: str = AUDIENCE) -> dict[str, str]:
    """Headers as the gateway sends them: an internal token naming the principal."""
    claims = principal_of(subject).internal_claims()
    return {"authorization": f"Bearer {signer.mint(subject, audience, 30, **claims)}"}


def open_call(
    client: TestClient, gateway: TokenSigner, subject: str = "agent.li", **body: Any
) -> dict[str, Any]:
    response = client.post(CALLS, json={**NEW_CALL, **body}, headers=bearer(gateway, subject))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def call_rows(app: FastAPI) -> list[CallSession]:
    with app.state.runtime.database.session() as session:
        return list(session.exec(select(CallSession)).all())


def audit_events(app: FastAPI) -> dict[str, dict[str, Any]]:
    """The outbox's call-session audit events, by decision id."""
    with app.state.runtime.database.session() as session:
        rows = session.exec(select(OutboxEvent).where(OutboxEvent.topic == AUDIT_TOPIC)).all()
        events = [json.loads(row.payload) for row in rows]
    # Only the call-session decisions (the runtime also audits its policy loads).
    return {event["decision_id"]: event for event in events if event["resource"] == "call.session"}


def database_bytes(tmp_path: Path) -> bytes:
    """Every byte of the SQLite database, its WAL and shared-memory files included."""
    return b"".join(path.read_bytes() for path in sorted(tmp_path.glob("identity.db*")))


def without_per_request_ids(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key not in PER_REQUEST_KEYS}


# --------------------------------------------------------------------------- open and read


def test_agent_opens_a_session_and_reads_it_back(client: TestClient, gateway: TokenSigner) -> None:
    created = open_call(client, gateway, "agent.li", direction="inbound", channel="video")

    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", created["id"])
    assert created["ani_masked"] == "139****5678"
    assert created["status"] == "open"
    assert created["assurance_level"] == "L0"
    assert (created["direction"], created["channel"], created["attestation"]) == (
        "inbound",
        "video",
        "A",
    )
    lifetime = datetime.fromisoformat(created["expires_at"]) - datetime.fromisoformat(
        created["created_at"]
    )
    assert lifetime.total_seconds() == 1800
    assert created["decision_id"]

    response = client.get(f"{CALLS}/{created['id']}", headers=bearer(gateway, "agent.li"))
    assert response.status_code == 200
    read = response.json()
    assert without_per_request_ids(read) == without_per_request_ids(created)
    assert read["decision_id"] != created["decision_id"]


def test_session_is_bound_to_the_agent_and_subsidiary(
    app: FastAPI, client: TestClient, gateway: TokenSigner
) -> None:
    created = open_call(client, gateway, "agent.wang", direction="outbound", channel="ivr")

    [row] = call_rows(app)
    assert row.id == created["id"]
    assert (row.agent, row.subsidiary) == ("agent.wang", "bank")
    assert (row.status, row.assurance_level, row.customer_id) == ("open", "L0", None)
    assert row.direction == "outbound"


def test_session_ids_are_unique(client: TestClient, gateway: TokenSigner) -> None:
    ids = {open_call(client, gateway)["id"] for _ in range(5)}
    assert len(ids) == 5


def test_ttl_comes_from_settings(tmp_path: Path) -> None:
    settings = IdentitySettings(
        env="dev",
        var_dir=tmp_path,
        policies_dir=POLICIES_DIR,
        database_url=f"sqlite:///{tmp_path}/identity.db",
        session_ttl_seconds=300,
    )
    app = create_app(settings, http_transport=httpx.MockTransport(no_profile_matches))
    with TestClient(app) as client:
        signer = TokenSigner(
            issuer="anxin-gateway",
            kid="gateway",
            key=load_key(private_key_path(tmp_path / "keys", "gateway")),
        )
        created = open_call(client, signer)
    lifetime = datetime.fromisoformat(created["expires_at"]) - datetime.fromisoformat(
        created["created_at"]
    )
    assert lifetime.total_seconds() == 300


def test_expired_session_reads_as_expired(
    app: FastAPI, client: TestClient, gateway: TokenSigner, tmp_path: Path
) -> None:
    created = open_call(client, gateway)
    with sqlite3.connect(tmp_path / "identity.db") as connection:
        connection.execute(
            "UPDATE call_session SET expires_at = '2020-01-01 00:00:00.000000' WHERE id = ?",
            (created["id"],),
        )

    response = client.get(f"{CALLS}/{created['id']}", headers=bearer(gateway, "agent.li"))

    assert response.status_code == 200
    assert response.json()["status"] == "expired"
    assert [row.status for row in call_rows(app)] == ["expired"]


# --------------------------------------------------------------------------- object-level access


def test_other_agents_and_unknown_ids_get_the_same_403(
    client: TestClient, gateway: TokenSigner
) -> None:
    created = open_call(client, gateway, "agent.li")
    attempts = [
        ("agent.zhang", created["id"]),  # another subsidiary
        ("senior.chen", created["id"]),  # same subsidiary, not the session's agent
        ("agent.li", "no-such-session-0000000"),  # unknown id, even for an agent
    ]

    responses = [
        client.get(f"{CALLS}/{session_id}", headers=bearer(gateway, subject))
        for subject, session_id in attempts
    ]

    assert [response.status_code for response in responses] == [403, 403, 403]
    assert {response.headers["content-type"] for response in responses} == {
        "application/problem+json"
    }
    bodies = [response.json() for response in responses]
    assert all(body["decision_id"] for body in bodies)
    assert len({body["decision_id"] for body in bodies}) == 3
    first = without_per_request_ids(bodies[0])
    assert all(without_per_request_ids(body) == first for body in bodies[1:])
    # Nothing of the caller's number leaks (random ids may hold any digits: left out).
    assert MOBILE[-4:] not in json.dumps([without_per_request_ids(body) for body in bodies])


def test_role_without_grant_cannot_open_a_session(
    app: FastAPI, client: TestClient, gateway: TokenSigner
) -> None:
    response = client.post(CALLS, json=NEW_CALL, headers=bearer(gateway, "auditor.zheng"))

    assert response.status_code == 403
    assert response.json()["decision_id"]
    assert call_rows(app) == []


# --------------------------------------------------------------------------- authentication


@pytest.mark.parametrize(
    "kind",
    ["missing", "not-bearer", "garbage", "wrong-audience", "other-key", "idp-key", "service-token"],
)
def test_requests_without_a_valid_internal_token_get_401(
    kind: str, app: FastAPI, client: TestClient, gateway: TokenSigner, keys_dir: Path
) -> None:
    created = open_call(client, gateway)
    claims = principal_of("agent.li").internal_claims()
    forged = {  # a token that claims to be the gateway's, signed by someone else's key
        name: TokenSigner(
            issuer="anxin-gateway", kid="gateway", key=load_key(private_key_path(keys_dir, name))
        ).mint("agent.li", AUDIENCE, 30, **claims)
        for name in ("consent", "idp")
    }
    consent = TokenSigner(
        issuer="anxin-consent", kid="consent", key=load_key(private_key_path(keys_dir, "consent"))
    )
    headers = {
        "missing": {},
        "not-bearer": {"authorization": "Basic YWdlbnQubGk6cGFzc3dvcmQ="},
        "garbage": {"authorization": "Bearer not.a.token"},
        "wrong-audience": bearer(gateway, "agent.li", audience="anxin-consent"),
        "other-key": {"authorization": f"Bearer {forged['consent']}"},
        "idp-key": {"authorization": f"Bearer {forged['idp']}"},
        # a peer service's own token is for internal routes, never the public API
        "service-token": {
            "authorization": "Bearer "
            + consent.mint("service:consent", AUDIENCE, 30, kind="service", subsidiary="group")
        },
    }[kind]

    post = client.post(CALLS, json=NEW_CALL, headers=headers)
    get = client.get(f"{CALLS}/{created['id']}", headers=headers)

    assert (post.status_code, get.status_code) == (401, 401)
    assert post.headers["content-type"] == "application/problem+json"
    assert "139****5678" not in get.text
    assert len(call_rows(app)) == 1


# --------------------------------------------------------------------------- input validation


@pytest.mark.parametrize(
    "field, value",
    [
        ("assurance_level", "L3"),
        ("status", "closed"),
        ("subsidiary", "bank"),
        ("agent", "agent.wang"),
        ("version", "9"),
        ("link_source", "ani"),
        ("id", "chosen-by-client"),
        ("ani_hash", "0" * 64),
    ],
)
def test_server_owned_fields_are_refused(
    field: str, value: str, app: FastAPI, client: TestClient, gateway: TokenSigner
) -> None:
    response = client.post(
        CALLS, json={**NEW_CALL, field: value}, headers=bearer(gateway, "agent.li")
    )

    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["errors"]] == [["body", field]]
    assert call_rows(app) == []
    assert audit_events(app) == {}


@pytest.mark.parametrize(
    "ani",
    [
        "12345",
        "23912345678",  # not a mobile prefix
        "1291234567",  # too short
        "1391234567８",  # full-width digit
        "+1 2025550123",
        "13912345678; --",
        "+86139123456781234567",  # over 20 characters
        "010-0123456",  # a local number never starts with 0
        "13912345678\n",  # `$` must not accept a trailing newline
    ],
)
def test_malformed_ani_is_refused_without_echoing_it(
    ani: str, app: FastAPI, client: TestClient, gateway: TokenSigner
) -> None:
    response = client.post(
        CALLS, json={**NEW_CALL, "ani": ani}, headers=bearer(gateway, "agent.li")
    )

    assert response.status_code == 422
    assert ani not in response.text
    assert call_rows(app) == []


@pytest.mark.parametrize(
    "body",
    [
        {"ani": MOBILE, "channel": "fax", "attestation": "A"},
        {"ani": MOBILE, "channel": "voice", "attestation": "D"},
        {"ani": MOBILE, "channel": "voice", "attestation": "A", "direction": "sideways"},
        {"channel": "voice", "attestation": "A"},
    ],
)
def test_unknown_enum_values_and_missing_ani_are_refused(
    body: dict[str, str], client: TestClient, gateway: TokenSigner
) -> None:
    response = client.post(CALLS, json=body, headers=bearer(gateway, "agent.li"))
    assert response.status_code == 422


# --------------------------------------------------------------------------- the raw number


def test_country_prefixes_and_dashes_normalize_to_one_hash(
    app: FastAPI, client: TestClient, gateway: TokenSigner, settings: IdentitySettings
) -> None:
    for ani in ("13912345678", "+8613912345678", "008613912345678", "8613912345678"):
        assert open_call(client, gateway, ani=ani)["ani_masked"] == "139****5678"
    for ani in ("010-87654321", "01087654321"):
        assert open_call(client, gateway, ani=ani)["ani_masked"] == "*********21"

    hashes = [row.ani_hash for row in sorted(call_rows(app), key=lambda row: row.created_at)]
    key = settings.ani_key.encode()
    assert set(hashes[:4]) == {hmac.new(key, b"13912345678", hashlib.sha256).hexdigest()}
    assert set(hashes[4:]) == {hmac.new(key, b"01087654321", hashlib.sha256).hexdigest()}
    # Keyed: a plain SHA-256 of the number (guessable from the small number space) is not stored.
    assert hashlib.sha256(b"13912345678").hexdigest() not in hashes


def test_raw_ani_is_never_stored_returned_audited_or_logged(
    app: FastAPI,
    client: TestClient,
    gateway: TokenSigner,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    numbers = {"+8613912345678": "13912345678", "0755-26543210": "075526543210"}
    responses = []
    for ani in numbers:
        created = client.post(
            CALLS, json={**NEW_CALL, "ani": ani}, headers=bearer(gateway, "agent.li")
        )
        assert created.status_code == 201
        responses.append(created.text)
        responses.append(
            client.get(f"{CALLS}/{created.json()['id']}", headers=bearer(gateway, "agent.li")).text
        )
    outbox = json.dumps(list(audit_events(app).values()), ensure_ascii=False)
    stored = database_bytes(tmp_path)

    assert len(call_rows(app)) == 2
    assert len(audit_events(app)) == 4
    for ani, national in numbers.items():
        for form in (ani, national, ani.replace("-", "")):
            assert form not in "".join(responses)
            assert form not in outbox
            assert form.encode() not in stored
            assert form not in caplog.text


# --------------------------------------------------------------------------- audit


def test_every_decision_is_audited_in_the_outbox(
    app: FastAPI, client: TestClient, gateway: TokenSigner
) -> None:
    policy_version = PolicyEngine(POLICIES_DIR).load()
    created = open_call(client, gateway, "agent.li")
    read = client.get(f"{CALLS}/{created['id']}", headers=bearer(gateway, "agent.li")).json()
    stranger = client.get(f"{CALLS}/{created['id']}", headers=bearer(gateway, "senior.chen"))
    unknown = client.get(f"{CALLS}/nothing-here", headers=bearer(gateway, "agent.li"))
    refused = client.post(CALLS, json=NEW_CALL, headers=bearer(gateway, "auditor.zheng"))

    events = audit_events(app)

    expected = {
        created["decision_id"]: ("agent.li", "create", True, None, created["id"]),
        read["decision_id"]: ("agent.li", "read", True, None, created["id"]),
        stranger.json()["decision_id"]: (
            "senior.chen",
            "read",
            False,
            "call_session_owner",
            created["id"],
        ),
        unknown.json()["decision_id"]: (
            "agent.li",
            "read",
            False,
            "call_session_exists",
            "nothing-here",
        ),
        refused.json()["decision_id"]: ("auditor.zheng", "create", False, "policy", None),
    }
    assert set(events) == set(expected)
    for decision_id, (actor, action, allowed, failed_fact, call_session) in expected.items():
        event = events[decision_id]
        assert event["producer"] == "identity"
        assert event["resource"] == "call.session"
        assert (event["actor"], event["action"], event["allowed"]) == (actor, action, allowed)
        assert event["failed_fact"] == failed_fact
        assert event["call_session"] == call_session
        assert event["policy_version"] == policy_version
        assert event["customer_ref"] is None
    assert events[created["decision_id"]]["domain"] == "life"
    assert events[created["decision_id"]]["actor_subsidiary"] == "life"
