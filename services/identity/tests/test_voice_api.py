"""Voiceprints through identity's API with the real engine on espeak-ng speech.

The identity app runs in process on a real SQLite file; profile and consent are
`httpx.MockTransport` peers (their own tests cover them), and requests carry
real gateway-signed internal tokens. The speaker model is resemblyzer's, loaded
once for the whole test session.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import select

from anxin_identity.main import create_app
from anxin_identity.settings import IdentitySettings
from anxin_identity.voice.models import VoiceDeletion, VoiceEnrollment, VoiceWatchlistEntry
from anxin_shared.audit_event import AUDIT_TOPIC
from anxin_shared.keys import load_key, private_key_path
from anxin_shared.outbox import OutboxEvent
from anxin_shared.principal import Principal
from anxin_shared.tokens import TokenSigner, service_issuer
from tests.voice_samples import (
    SENTENCES,
    VOICE_A,
    VOICE_B,
    VOICE_C,
    silence,
    speak,
    white_noise,
)

POLICIES_DIR = Path(__file__).resolve().parents[3] / "policies"
CALLS = "/api/v1/calls"
WATCHLIST = "/api/v1/voiceprint-watchlist"
# Registered numbers of three life-insurance customers (the profile peer below knows them).
CUSTOMERS = {"13800000001": "C000002", "13800000002": "C000005", "13800000003": "C000008"}
CONSENTED = {"C000002", "C000005"}
STAFF = {
    "agent.li": ("life", ("agent",)),
    "agent.wang": ("bank", ("agent",)),
    "contractor.sun": ("pc", ("outsourced_agent",)),
    "secadmin.wu": ("group", ("security_admin",)),
}


@pytest.fixture(scope="session")
def samples() -> dict[str, bytes]:
    """Each voice saying distinct sentences (enrollment, verification), made once."""
    return {
        "a1": speak(VOICE_A, SENTENCES[0]),
        "a2": speak(VOICE_A, SENTENCES[1]),
        "a_new": speak(VOICE_A, SENTENCES[2]),
        "b_new": speak(VOICE_B, SENTENCES[2]),
        "c1": speak(VOICE_C, SENTENCES[3]),
        "c2": speak(VOICE_C, SENTENCES[4]),
        "c_new": speak(VOICE_C, SENTENCES[5]),
        "silence": silence(),
        "noise": white_noise(),
    }


class Peers:
    """Profile and consent, as MockTransport peers; remembers the consent checks asked."""

    def __init__(self) -> None:
        self.consent_checks: list[dict[str, Any]] = []
        self.consented = set(CONSENTED)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        body = json.loads(request.content) if request.content else {}
        if path == "/internal/v1/contact-points:match":
            customer = CUSTOMERS.get(body["number"])
            matches = (
                [
                    {
                        "customer_id": customer,
                        "subsidiary": "life",
                        "channel": "mobile",
                        "first_seen": "2020-01-01",
                    }
                ]
                if customer
                else []
            )
            return httpx.Response(200, json={"matches": matches})
        if path == "/internal/v1/devices:match":
            return httpx.Response(200, json={"matches": []})
        if path == "/internal/v1/consent:check":
            self.consent_checks.append(body)
            allowed = body["customer_id"] in self.consented and body == {
                "customer_id": body["customer_id"],
                "purpose": "identity_verification",
                "category": "spi.biometric.voiceprint",
                "recipient": "group",
            }
            return httpx.Response(
                200,
                json={
                    "allowed": allowed,
                    "consent_id": "CN-" + body["customer_id"] if allowed else None,
                    "notice_key": "biometric" if allowed else None,
                    "notice_version": 1 if allowed else None,
                    "reason": "consent given" if allowed else "no consent for this scope",
                },
            )
        if path == "/internal/v1/events:batch":
            return httpx.Response(200, json={"accepted": len(body.get("events", []))})
        return httpx.Response(404, json={"detail": "not mocked"})


@pytest.fixture
def peers() -> Peers:
    return Peers()


@pytest.fixture
def app(tmp_path: Path, peers: Peers) -> FastAPI:
    settings = IdentitySettings(
        env="dev",
        var_dir=tmp_path,
        policies_dir=POLICIES_DIR,
        database_url=f"sqlite:///{tmp_path}/identity.db",
    )
    return create_app(settings, http_transport=httpx.MockTransport(peers))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def gateway(app: FastAPI, client: TestClient) -> TokenSigner:
    keys = Path(str(app.state.runtime.settings.keys_dir))
    return TokenSigner("anxin-gateway", load_key(private_key_path(keys, "gateway")), "gateway")


def bearer(
    signer: TokenSigner,
    subject: str,
    *,
    level: str = "L0",
    customer: str | None = None,
    call_session: str | None = None,
) -> dict[str, str]:
    """An internal token as the gateway mints it (level and verified customer included)."""
    subsidiary, roles = STAFF[subject]
    claims = Principal(
        subject=subject,
        kind="user",
        subsidiary=subsidiary,
        roles=roles,
        assurance_level=level,
        call_session=call_session,
        verified_customer=customer,
        decision_id=uuid.uuid4().hex,
        request_id=uuid.uuid4().hex,
    ).internal_claims()
    token = signer.mint(subject, "anxin-identity", 60, **claims)
    return {"authorization": f"Bearer {token}"}


def open_call(client: TestClient, gateway: TokenSigner, ani: str) -> str:
    response = client.post(
        CALLS,
        json={"ani": ani, "channel": "voice", "attestation": "A"},
        headers=bearer(gateway, "agent.li"),
    )
    assert response.status_code == 201, response.text
    call_id: str = response.json()["id"]
    return call_id


def wav_files(field: str, *recordings: bytes) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [(field, (f"{index}.wav", data, "audio/wav")) for index, data in enumerate(recordings)]


def enroll(
    client: TestClient,
    gateway: TokenSigner,
    call_id: str,
    customer: str,
    *recordings: bytes,
    level: str = "L2",
) -> httpx.Response:
    return client.post(
        f"{CALLS}/{call_id}/voiceprint/enrollment",
        files=wav_files("utterances", *recordings),
        headers=bearer(gateway, "agent.li", level=level, customer=customer, call_session=call_id),
    )


def verify(
    client: TestClient,
    gateway: TokenSigner,
    call_id: str,
    recording: bytes,
    agent: str = "agent.li",
) -> httpx.Response:
    return client.post(
        f"{CALLS}/{call_id}/voiceprint/verification",
        files={"audio": ("call.wav", recording, "audio/wav")},
        headers=bearer(gateway, agent, level="L1", call_session=call_id),
    )


def rows(app: FastAPI, model: Any) -> list[Any]:
    with app.state.runtime.database.session() as session:
        return list(session.exec(select(model)).all())


def audit_events(app: FastAPI) -> list[dict[str, Any]]:
    with app.state.runtime.database.session() as session:
        found = session.exec(select(OutboxEvent).where(OutboxEvent.topic == AUDIT_TOPIC)).all()
        return [json.loads(row.payload) for row in found]


def factor_attempts(app: FastAPI) -> list[Any]:
    from anxin_identity.calls.models import CallFactorAttempt

    return [row for row in rows(app, CallFactorAttempt) if row.factor == "voiceprint"]


# ----------------------------------------------------------------------------------- tests


def test_same_voice_matches_and_a_different_voice_does_not(
    app: FastAPI,
    client: TestClient,
    gateway: TokenSigner,
    samples: dict[str, bytes],
    tmp_path: Path,
) -> None:
    call_id = open_call(client, gateway, "13800000001")
    enrolled = enroll(client, gateway, call_id, "C000002", samples["a1"], samples["a2"])
    assert enrolled.status_code == 201, enrolled.text
    body = enrolled.json()
    assert body["customer_id"] == "C000002" and body["utterances"] == 2
    assert body["consent_id"] == "CN-C000002" and body["engine"] == "resemblyzer"

    same = verify(client, gateway, call_id, samples["a_new"])
    assert same.status_code == 200, same.text
    assert same.json()["result"] == "match", same.json()
    assert same.json()["score"] >= same.json()["threshold"]
    assert same.json()["watchlist_hit"] is False

    other = verify(client, gateway, call_id, samples["b_new"])
    assert other.status_code == 200, other.text
    assert other.json()["result"] == "mismatch", other.json()
    assert other.json()["score"] < other.json()["threshold"] < same.json()["score"]
    assert [attempt.success for attempt in factor_attempts(app)] == [True, False]

    # At rest the voiceprint is AES-GCM ciphertext: nonce + 256 float32 + tag, and the
    # plaintext vector is nowhere in the database file.
    (row,) = rows(app, VoiceEnrollment)
    assert len(row.embedding) == 12 + 256 * 4 + 16
    cipher = app.state.voice_context.cipher
    vector = cipher.open(row.embedding, f"voice_enrollment:{row.id}:{row.customer_id}")
    assert vector.shape == (256,) and abs(float(np.linalg.norm(vector)) - 1.0) < 1e-3
    database = b"".join(p.read_bytes() for p in sorted(tmp_path.glob("identity.db*")))
    assert vector.astype("<f4").tobytes()[:64] not in database
    with pytest.raises(Exception, match="cannot be decrypted"):
        cipher.open(row.embedding, f"voice_enrollment:{row.id}:C000005")


def test_a_watchlisted_voice_raises_an_alert_event_and_never_a_level(
    app: FastAPI, client: TestClient, gateway: TokenSigner, samples: dict[str, bytes]
) -> None:
    admin = bearer(gateway, "secadmin.wu")
    added = client.post(
        WATCHLIST,
        data={"label": "CASE-2026-117"},
        files=wav_files("utterances", samples["c1"], samples["c2"]),
        headers=admin,
    )
    assert added.status_code == 201, added.text
    listed = client.get(WATCHLIST, headers=admin).json()["items"]
    assert [entry["label"] for entry in listed] == ["CASE-2026-117"]
    assert "embedding" not in listed[0]

    call_id = open_call(client, gateway, "13800000002")
    assert (
        enroll(client, gateway, call_id, "C000005", samples["a1"], samples["a2"]).status_code == 201
    )
    hit = verify(client, gateway, call_id, samples["c_new"])
    assert hit.status_code == 200, hit.text
    assert hit.json()["watchlist_hit"] is True
    assert hit.json()["result"] == "mismatch"
    assert hit.json()["assurance_level"] == "L0"  # the risk signal caps the session
    (attempt,) = factor_attempts(app)
    assert attempt.success is False and json.loads(attempt.detail)["watchlist_hit"] is True
    alerts = [event for event in audit_events(app) if event["kind"] == "fraud.watchlist_hit"]
    assert len(alerts) == 1
    assert alerts[0]["customer_ref"] == "C000005" and alerts[0]["call_session"] == call_id
    assert alerts[0]["resource"] == "fraud.watchlist" and alerts[0]["allowed"] is False

    # The enrolled customer's own voice is no hit.
    clean = verify(client, gateway, call_id, samples["a_new"])
    assert clean.json()["watchlist_hit"] is False

    entry_id = listed[0]["id"]
    assert client.delete(f"{WATCHLIST}/{entry_id}", headers=admin).status_code == 204
    assert rows(app, VoiceWatchlistEntry) == []
    assert client.delete(f"{WATCHLIST}/{entry_id}", headers=admin).status_code == 404


def test_silence_and_noise_are_insufficient_audio(
    app: FastAPI, client: TestClient, gateway: TokenSigner, samples: dict[str, bytes]
) -> None:
    call_id = open_call(client, gateway, "13800000001")
    assert (
        enroll(client, gateway, call_id, "C000002", samples["a1"], samples["a2"]).status_code == 201
    )
    for name in ("silence", "noise"):
        response = verify(client, gateway, call_id, samples[name])
        assert response.status_code == 200, response.text
        assert response.json()["result"] == "insufficient_audio", name
        assert response.json()["score"] is None
    assert factor_attempts(app) == []  # no evidence either way: no attempt counted
    # Enrolling from noise is refused outright, and changes nothing.
    before = rows(app, VoiceEnrollment)
    refused = enroll(client, gateway, call_id, "C000002", samples["a1"], samples["noise"])
    assert refused.status_code == 422
    assert "utterance 2" in refused.json()["detail"]
    assert refused.json()["reason"] == "insufficient_audio"
    assert [row.id for row in rows(app, VoiceEnrollment)] == [row.id for row in before]


def test_enrollment_without_biometric_consent_is_refused(
    app: FastAPI, client: TestClient, gateway: TokenSigner, samples: dict[str, bytes], peers: Peers
) -> None:
    call_id = open_call(client, gateway, "13800000003")
    refused = enroll(client, gateway, call_id, "C000008", samples["a1"], samples["a2"])
    assert refused.status_code == 403, refused.text
    assert refused.json()["failed_fact"] == "biometric_consent"
    assert peers.consent_checks[-1] == {
        "customer_id": "C000008",
        "purpose": "identity_verification",
        "category": "spi.biometric.voiceprint",
        "recipient": "group",
    }
    assert rows(app, VoiceEnrollment) == []
    denial = [e for e in audit_events(app) if e["resource"] == "customer.voiceprint"]
    assert denial and denial[-1]["allowed"] is False
    assert denial[-1]["decision_id"] == refused.json()["decision_id"]


def test_enrollment_needs_the_caller_verified_to_l2_for_that_customer(
    app: FastAPI, client: TestClient, gateway: TokenSigner, samples: dict[str, bytes]
) -> None:
    call_id = open_call(client, gateway, "13800000001")
    low = enroll(client, gateway, call_id, "C000002", samples["a1"], samples["a2"], level="L1")
    assert low.status_code == 403 and "L2" in low.json()["detail"]
    # L2 for another customer lends nothing to this one.
    other = enroll(client, gateway, call_id, "C000005", samples["a1"], samples["a2"])
    assert other.status_code == 403
    assert rows(app, VoiceEnrollment) == []


def test_bad_audio_is_a_clear_problem_and_changes_nothing(
    app: FastAPI, client: TestClient, gateway: TokenSigner, samples: dict[str, bytes]
) -> None:
    call_id = open_call(client, gateway, "13800000001")
    limit = app.state.runtime.settings.voice_max_audio_bytes
    short = speak(VOICE_A, "Hi.")
    cases = {
        "empty": (b"", 422, "empty"),
        "not a wav": (b"ID3\x04" + bytes(4000), 422, "not a WAV"),
        "truncated": (samples["a1"][:44], 422, "too short"),
        "too short": (short, 422, "too short"),
        "oversized": (samples["a1"][:44] + bytes(limit), 413, "at most"),
    }
    for name, (data, status, phrase) in cases.items():
        response = enroll(client, gateway, call_id, "C000002", samples["a1"], data)
        assert response.status_code == status, (name, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert phrase in response.json()["detail"], (name, response.json())
        verified = verify(client, gateway, call_id, data)
        assert verified.status_code == status, (name, verified.text)
    one = enroll(client, gateway, call_id, "C000002", samples["a1"])
    assert one.status_code == 422 and "2 to 5 utterances" in one.json()["detail"]
    assert rows(app, VoiceEnrollment) == [] and factor_attempts(app) == []


def test_consent_withdrawal_deletes_the_voiceprint_once(
    app: FastAPI, client: TestClient, gateway: TokenSigner, samples: dict[str, bytes]
) -> None:
    call_id = open_call(client, gateway, "13800000001")
    assert (
        enroll(client, gateway, call_id, "C000002", samples["a1"], samples["a2"]).status_code == 201
    )
    keys = Path(str(app.state.runtime.settings.keys_dir))
    consent = TokenSigner(
        service_issuer("consent"), load_key(private_key_path(keys, "consent")), "consent"
    )
    token = consent.mint(
        "service:consent", "anxin-identity", 30, kind="service", subsidiary="group"
    )
    event = {
        "event_id": "evt-withdraw-1",
        "customer_id": "C000002",
        "purpose": "identity_verification",
        "category": "spi.biometric.voiceprint",
        "recipient": "group",
        "consent_id": "CN-C000002",
        "withdrawn_at": "2026-11-26T10:00:00Z",
    }
    other = {
        **event,
        "event_id": "evt-other",
        "category": "pi.contact.phone",
        "purpose": "marketing",
    }
    headers = {"authorization": f"Bearer {token}"}
    first = client.post(
        "/internal/v1/consent-events", json={"events": [event, other]}, headers=headers
    )
    assert first.status_code == 200, first.text
    assert first.json() == {"accepted": 2, "duplicates": 0, "deleted": 1}
    again = client.post("/internal/v1/consent-events", json={"events": [event]}, headers=headers)
    assert again.json() == {"accepted": 0, "duplicates": 1, "deleted": 0}
    assert rows(app, VoiceEnrollment) == []
    (deletion,) = rows(app, VoiceDeletion)
    assert deletion.customer_id == "C000002" and deletion.enrollment_id is not None
    deleted = [e for e in audit_events(app) if e["kind"] == "biometric.deleted"]
    assert len(deleted) == 1 and deleted[0]["customer_ref"] == "C000002"
    gone = verify(client, gateway, call_id, samples["a_new"])
    assert gone.status_code == 409 and "no voiceprint" in gone.json()["detail"]
    # Only the consent service may deliver consent events.
    agent = client.post(
        "/internal/v1/consent-events", json={"events": [event]}, headers=bearer(gateway, "agent.li")
    )
    assert agent.status_code == 401


def test_the_watchlist_is_security_staffs_and_sessions_their_agents(
    app: FastAPI, client: TestClient, gateway: TokenSigner, samples: dict[str, bytes]
) -> None:
    agent = bearer(gateway, "agent.li", level="L3")
    assert client.get(WATCHLIST, headers=agent).status_code == 403
    added = client.post(
        WATCHLIST,
        data={"label": "CASE-1"},
        files=wav_files("utterances", samples["c1"]),
        headers=agent,
    )
    assert added.status_code == 403
    assert rows(app, VoiceWatchlistEntry) == []
    bad_label = client.post(
        WATCHLIST,
        data={"label": "张三 13812345678 <script>"},
        files=wav_files("utterances", samples["c1"]),
        headers=bearer(gateway, "secadmin.wu"),
    )
    assert bad_label.status_code == 422
    call_id = open_call(client, gateway, "13800000001")
    stranger = verify(client, gateway, call_id, samples["a_new"], agent="agent.wang")
    assert stranger.status_code == 403


def test_repeated_mismatches_lock_the_voiceprint_factor(
    app: FastAPI, client: TestClient, gateway: TokenSigner, samples: dict[str, bytes]
) -> None:
    call_id = open_call(client, gateway, "13800000001")
    enrolled = enroll(client, gateway, call_id, "C000002", samples["a1"], samples["a2"])
    assert enrolled.status_code == 201
    for _ in range(3):  # policies/assurance.yaml: lockout.max_failures
        assert verify(client, gateway, call_id, samples["b_new"]).json()["result"] == "mismatch"
    locked = verify(client, gateway, call_id, samples["a_new"])
    assert locked.status_code == 409, locked.text
    assert "locked" in locked.json()["detail"] and locked.json()["factor"] == "voiceprint"
    assert [attempt.success for attempt in factor_attempts(app)] == [False, False, False]


def test_a_withdrawn_consent_stops_verification_at_once(
    app: FastAPI,
    client: TestClient,
    gateway: TokenSigner,
    samples: dict[str, bytes],
    peers: Peers,
) -> None:
    call_id = open_call(client, gateway, "13800000002")
    enrolled = enroll(client, gateway, call_id, "C000005", samples["a1"], samples["a2"])
    assert enrolled.status_code == 201
    peers.consented.discard("C000005")  # withdrawn; the deleting event is still on its way
    refused = verify(client, gateway, call_id, samples["a_new"])
    assert refused.status_code == 403, refused.text
    assert refused.json()["failed_fact"] == "biometric_consent"
    assert factor_attempts(app) == []
