"""Consent records, checks, withdrawal, expiry and the customer's copy, in process.

The consent app runs for real on a SQLite file; the profile service (which says
whether a customer exists) and the outbox destinations are an `httpx.MockTransport`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import col, func, select

from anxin_consent.checks.schemas import ConsentCheckRequest
from anxin_consent.checks.service import CheckCache, evaluate
from anxin_consent.main import create_app
from anxin_consent.notices.models import ConsentNotice
from anxin_consent.records.models import ConsentRecord
from anxin_consent.records.service import expire_due
from anxin_consent.seed import CROSS_SELL_TEXT, VOICEPRINT_TEXT
from anxin_consent.settings import ConsentSettings
from anxin_shared.audit_event import AUDIT_TOPIC
from anxin_shared.keys import load_key, private_key_path
from anxin_shared.outbox import OutboxEvent
from anxin_shared.principal import Principal
from anxin_shared.tokens import TokenSigner

POLICIES_DIR = Path(__file__).resolve().parents[3] / "policies"
RECORDS = "/api/v1/consent/records"
WITHDRAWALS = "/api/v1/consent/withdrawals"
NOTICES = "/api/v1/consent/notices"
CHECK = "/internal/v1/consent:check"
CUSTOMERS = {"C000002": "life", "C000001": "pc", "C000003": "bank", "C000005": "life"}
LIFE, BANK_CUSTOMER = "C000002", "C000003"
RECORDING_HASH = hashlib.sha256(b"segment of the call where the customer said yes").hexdigest()
STAFF: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "agent.li": ("user", "life", ("agent",)),
    "agent.wang": ("user", "bank", ("agent",)),
    "contractor.sun": ("user", "pc", ("outsourced_agent",)),
    "legal.qian": ("user", "group", ("legal_officer",)),
    "life-claims-system": ("client", "life", ("subsidiary_client",)),
    "bank-crm-system": ("client", "bank", ("subsidiary_client",)),
}
VOICEPRINT = {
    "notice_key": "biometric-voiceprint",
    "notice_version": 1,
    "category": "spi.biometric.voiceprint",
    "recipient": "group",
}
VOICEPRINT_SCOPE = {
    "purpose": "identity_verification",
    "category": "spi.biometric.voiceprint",
    "recipient": "group",
}


@dataclass
class Profile:
    """The profile service's existence endpoint (and 200 for every outbox delivery)."""

    down: bool = False
    delivered: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.startswith("/internal/v1/customers/") and path.endswith("/exists"):
            if self.down:
                return httpx.Response(503)
            customer_id = path.split("/")[4]
            self.asked.append(customer_id)
            subsidiary = CUSTOMERS.get(customer_id)
            return httpx.Response(200, json={"exists": bool(subsidiary), "subsidiary": subsidiary})
        self.delivered.setdefault(path, []).extend(json.loads(request.content)["events"])
        return httpx.Response(200, json={"stored": 0})


def consent_settings(tmp_path: Path) -> ConsentSettings:
    return ConsentSettings(
        env="dev",
        var_dir=tmp_path,
        policies_dir=POLICIES_DIR,
        database_url=f"sqlite:///{tmp_path}/consent.db",
        outbox_interval_seconds=60,
    )


@pytest.fixture
def profile() -> Profile:
    return Profile()


@pytest.fixture
def app(tmp_path: Path, profile: Profile) -> FastAPI:
    return create_app(consent_settings(tmp_path), http_transport=httpx.MockTransport(profile))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@dataclass
class Tokens:
    """Mints what the gateway and peer services would send."""

    keys: Path

    def signer(self, name: str) -> TokenSigner:
        issuer = "anxin-gateway" if name == "gateway" else f"anxin-{name}"
        return TokenSigner(issuer=issuer, key=load_key(private_key_path(self.keys, name)), kid=name)

    def user(
        self,
        subject: str,
        *,
        level: str = "L0",
        verified_customer: str | None = None,
        call_session: str | None = None,
    ) -> dict[str, str]:
        kind, subsidiary, roles = STAFF[subject]
        principal = Principal(
            subject=subject,
            kind=kind,  # type: ignore[arg-type]
            subsidiary=subsidiary,
            roles=roles,
            assurance_level=level,
            call_session=call_session,
            verified_customer=verified_customer,
            decision_id=uuid.uuid4().hex,
            request_id=uuid.uuid4().hex,
        )
        token = self.signer("gateway").mint(
            subject, "anxin-consent", 30, **principal.internal_claims()
        )
        return {"authorization": f"Bearer {token}"}

    def on_call(
        self, customer_id: str, level: str = "L1", subject: str = "agent.li"
    ) -> dict[str, str]:
        return self.user(
            subject, level=level, verified_customer=customer_id, call_session="sess-" + customer_id
        )

    def service(self, name: str) -> dict[str, str]:
        token = self.signer(name).mint(
            f"service:{name}", "anxin-consent", 60, kind="service", subsidiary="group"
        )
        return {"authorization": f"Bearer {token}"}


@pytest.fixture
def tokens(client: TestClient, tmp_path: Path) -> Tokens:
    return Tokens(tmp_path / "keys")


def record_count(app: FastAPI) -> int:
    with app.state.runtime.database.session() as session:
        return int(session.exec(select(func.count()).select_from(ConsentRecord)).one())


def outbox(app: FastAPI, topic: str) -> list[dict[str, Any]]:
    with app.state.runtime.database.session() as session:
        rows = session.exec(
            select(OutboxEvent)
            .where(OutboxEvent.topic == topic)
            .order_by(col(OutboxEvent.created_at))
        ).all()
        return [json.loads(row.payload) for row in rows]


def check(client: TestClient, tokens: Tokens, customer_id: str, **scope: str) -> dict[str, Any]:
    response = client.post(
        CHECK, json={"customer_id": customer_id, **scope}, headers=tokens.service("profile")
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def grant_voiceprint(client: TestClient, tokens: Tokens, customer_id: str = LIFE) -> dict[str, Any]:
    response = client.post(
        RECORDS,
        json={
            "customer_id": customer_id,
            "channel": "call",
            "recording_hash": RECORDING_HASH,
            **VOICEPRINT,
        },
        headers=tokens.on_call(customer_id),
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def app_grant(
    client: TestClient,
    tokens: Tokens,
    customer_id: str,
    subject: str = "life-claims-system",
    **body: Any,
) -> httpx.Response:
    return client.post(
        RECORDS,
        json={
            "customer_id": customer_id,
            "channel": "app",
            "evidence_ref": "app-receipt:42",
            **body,
        },
        headers=tokens.user(subject),
    )


# --------------------------------------------------------------------------- agent flow


def test_an_agent_on_a_verified_call_records_a_consent_and_the_check_allows(
    app: FastAPI, client: TestClient, tokens: Tokens
) -> None:
    change = grant_voiceprint(client, tokens)
    record = change["record"]

    assert record["action"] == "grant"
    assert record["call_session"] == "sess-" + LIFE
    assert record["recording_ref"] == "call-recording:sess-" + LIFE
    assert record["recording_hash"] == RECORDING_HASH
    assert (record["operator"], record["channel"], record["assurance_level"]) == (
        "agent.li",
        "call",
        "L1",
    )
    assert record["notice_text_hash"] == hashlib.sha256(VOICEPRINT_TEXT.encode()).hexdigest()
    assert record["purpose"] == "identity_verification"
    expires = datetime.fromisoformat(record["expires_at"]) - datetime.fromisoformat(
        record["recorded_at"]
    )
    assert expires == timedelta(days=1095)

    answer = check(client, tokens, LIFE, **VOICEPRINT_SCOPE)
    assert answer == {
        "allowed": True,
        "consent_id": record["record_id"],
        "notice_key": "biometric-voiceprint",
        "notice_version": 1,
        "reason": "granted",
    }
    audit = [e for e in outbox(app, AUDIT_TOPIC) if e.get("decision_id") == change["decision_id"]]
    assert audit and audit[0]["consent_id"] == record["record_id"]
    assert audit[0]["call_session"] == "sess-" + LIFE


def test_the_call_session_and_recording_cannot_be_set_by_the_body(
    app: FastAPI, client: TestClient, tokens: Tokens
) -> None:
    for extra in ({"call_session": "forged"}, {"recording_ref": "elsewhere"}, {"operator": "x"}):
        response = client.post(
            RECORDS,
            json={
                "customer_id": LIFE,
                "channel": "call",
                "recording_hash": RECORDING_HASH,
                **VOICEPRINT,
                **extra,
            },
            headers=tokens.on_call(LIFE),
        )
        assert response.status_code == 422, extra
    assert record_count(app) == 0


@pytest.mark.parametrize(
    ("headers_for", "customer_id"),
    [
        pytest.param(lambda t: t.user("agent.li", level="L0"), LIFE, id="no-call"),
        pytest.param(lambda t: t.on_call("C000005"), LIFE, id="call-verified-another-customer"),
        pytest.param(
            lambda t: t.user("agent.li", level="L2", verified_customer=LIFE), LIFE, id="no-session"
        ),
        pytest.param(lambda t: t.on_call(BANK_CUSTOMER), BANK_CUSTOMER, id="other-subsidiary"),
        pytest.param(
            lambda t: t.on_call(LIFE, level="L3", subject="contractor.sun"), LIFE, id="contractor"
        ),
        pytest.param(lambda t: t.user("life-claims-system"), LIFE, id="system-claims-a-call"),
    ],
)
def test_a_call_consent_needs_the_agent_on_a_call_verified_for_that_customer(
    headers_for: Any, customer_id: str, app: FastAPI, client: TestClient, tokens: Tokens
) -> None:
    response = client.post(
        RECORDS,
        json={
            "customer_id": customer_id,
            "channel": "call",
            "recording_hash": RECORDING_HASH,
            **VOICEPRINT,
        },
        headers=headers_for(tokens),
    )
    assert response.status_code == 403, response.text
    assert response.json()["decision_id"]
    assert record_count(app) == 0
    denial = [
        e
        for e in outbox(app, AUDIT_TOPIC)
        if e.get("decision_id") == response.json()["decision_id"]
    ]
    assert denial and denial[0]["allowed"] is False


def test_another_subsidiarys_customer_and_a_missing_one_get_the_same_403(
    app: FastAPI, client: TestClient, tokens: Tokens
) -> None:
    answers = []
    for customer_id in (BANK_CUSTOMER, "C999999"):
        response = client.post(
            RECORDS,
            json={
                "customer_id": customer_id,
                "channel": "call",
                "recording_hash": RECORDING_HASH,
                **VOICEPRINT,
            },
            headers=tokens.on_call(customer_id),
        )
        assert response.status_code == 403
        answers.append(response.json()["detail"])
    assert answers[0] == answers[1]
    assert record_count(app) == 0


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("change", "status", "detail"),
    [
        ({"notice_key": "no-such-notice"}, 422, "unknown notice"),
        ({"notice_version": 7}, 422, "unknown notice"),
        ({"category": "pi.contact.phone"}, 422, "does not cover this data category"),
        ({"recipient": "bank"}, 422, "does not name this recipient"),
        ({"recording_hash": "abc123"}, 422, "schema"),
        ({"recording_hash": "g" * 64}, 422, "schema"),
        ({"recording_hash": None}, 422, "schema"),
        ({"channel": "fax"}, 422, "schema"),
        ({"customer_id": "C0/../1"}, 422, "schema"),
    ],
)
def test_bad_grants_are_refused_with_a_problem_and_store_nothing(
    change: dict[str, Any],
    status: int,
    detail: str,
    app: FastAPI,
    client: TestClient,
    tokens: Tokens,
) -> None:
    body = {
        "customer_id": LIFE,
        "channel": "call",
        "recording_hash": RECORDING_HASH,
        **VOICEPRINT,
        **change,
    }
    response = client.post(RECORDS, json=body, headers=tokens.on_call(LIFE))

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert detail in response.json()["detail"] or detail == "schema"
    assert record_count(app) == 0
    assert outbox(app, "consent.withdrawn") == []


def test_an_unpublished_or_retired_version_cannot_be_agreed_to(
    app: FastAPI, client: TestClient, tokens: Tokens
) -> None:
    staff = tokens.user("legal.qian")
    draft = {
        "notice_key": "biometric-voiceprint",
        "version": 2,
        "purpose": "声纹核验（第二版）",
        "purpose_code": "identity_verification",
        "separate_consent": True,
        "categories": ["spi.biometric.voiceprint"],
        "recipients": ["group"],
        "retention_days": 365,
        "text_zh": VOICEPRINT_TEXT + "\n（第二版：保存期限改为一年。）",
    }
    assert client.post(NOTICES, json=draft, headers=staff).status_code == 201
    body = {"customer_id": LIFE, "channel": "call", "recording_hash": RECORDING_HASH, **VOICEPRINT}

    refused = client.post(RECORDS, json={**body, "notice_version": 2}, headers=tokens.on_call(LIFE))
    assert refused.status_code == 422
    assert "draft, not published" in refused.json()["detail"]

    retire = client.post(f"{NOTICES}/biometric-voiceprint/versions/1/retire", headers=staff)
    assert retire.status_code == 200 and retire.json()["notice"]["status"] == "retired"
    refused = client.post(RECORDS, json=body, headers=tokens.on_call(LIFE))
    assert refused.status_code == 422
    assert "retired, not published" in refused.json()["detail"]
    assert record_count(app) == 0


def test_withdrawing_what_was_never_granted_is_refused(
    app: FastAPI, client: TestClient, tokens: Tokens
) -> None:
    response = client.post(
        WITHDRAWALS,
        json={
            "customer_id": LIFE,
            "channel": "call",
            "recording_hash": RECORDING_HASH,
            **VOICEPRINT_SCOPE,
        },
        headers=tokens.on_call(LIFE),
    )
    assert response.status_code == 409
    assert "nothing to withdraw" in response.json()["detail"]
    assert record_count(app) == 0
    assert outbox(app, "consent.withdrawn") == []


def test_withdrawing_twice_is_refused_the_second_time(
    app: FastAPI, client: TestClient, tokens: Tokens
) -> None:
    grant_voiceprint(client, tokens)
    body = {
        "customer_id": LIFE,
        "channel": "call",
        "recording_hash": RECORDING_HASH,
        **VOICEPRINT_SCOPE,
    }
    assert client.post(WITHDRAWALS, json=body, headers=tokens.on_call(LIFE)).status_code == 201
    assert client.post(WITHDRAWALS, json=body, headers=tokens.on_call(LIFE)).status_code == 409
    assert record_count(app) == 2
    assert len(outbox(app, "consent.withdrawn")) == 1


def test_no_api_modifies_history(app: FastAPI, client: TestClient, tokens: Tokens) -> None:
    grant_voiceprint(client, tokens)
    for method in ("PUT", "PATCH", "DELETE"):
        for path in (RECORDS, WITHDRAWALS, f"{NOTICES}/biometric-voiceprint/versions/1"):
            response = client.request(
                method, path, json={"action": "withdraw"}, headers=tokens.on_call(LIFE)
            )
            assert response.status_code == 405, (method, path)
            assert response.headers["content-type"] == "application/problem+json"
        unrouted = client.request(method, f"{RECORDS}/abc", headers=tokens.on_call(LIFE))
        assert unrouted.status_code in (404, 405)
    assert record_count(app) == 1


def test_the_database_refuses_to_change_history(
    app: FastAPI, client: TestClient, tokens: Tokens
) -> None:
    grant_voiceprint(client, tokens)
    for statement in (
        "UPDATE consent_record SET action = 'withdraw'",
        "UPDATE consent_record SET recorded_at = '2020-01-01'",
        "DELETE FROM consent_record",
        "UPDATE consent_notice SET text_zh = 'edited' WHERE notice_key = 'biometric-voiceprint'",
        "UPDATE consent_notice SET categories = '[]'",
        "DELETE FROM consent_notice WHERE notice_key = 'marketing-contact-preferences'",
    ):
        with pytest.raises(sa.exc.DatabaseError), app.state.runtime.database.engine.begin() as conn:
            conn.execute(sa.text(statement))
    assert record_count(app) == 1
    with app.state.runtime.database.session() as session:
        notice = session.exec(
            select(ConsentNotice).where(ConsentNotice.notice_key == "biometric-voiceprint")
        ).one()
        assert hashlib.sha256(notice.text_zh.encode()).hexdigest() == notice.text_hash
        assert notice.categories == ["spi.biometric.voiceprint"]


def test_profile_down_means_503_and_nothing_stored(
    app: FastAPI, client: TestClient, tokens: Tokens, profile: Profile
) -> None:
    profile.down = True
    response = client.post(
        RECORDS,
        json={
            "customer_id": LIFE,
            "channel": "call",
            "recording_hash": RECORDING_HASH,
            **VOICEPRINT,
        },
        headers=tokens.on_call(LIFE),
    )
    assert response.status_code == 503
    assert record_count(app) == 0


# --------------------------------------------------------------------------- separate consent


def test_provision_to_another_subsidiary_needs_its_own_separate_consent(
    app: FastAPI, client: TestClient, tokens: Tokens
) -> None:
    marketing = {"notice_key": "marketing-contact-preferences", "notice_version": 1}
    general = app_grant(
        client, tokens, LIFE, category="pi.contact.phone", recipient="life", **marketing
    )
    assert general.status_code == 201, general.text
    bundled = app_grant(
        client, tokens, LIFE, category="pi.contact.phone", recipient="bank", **marketing
    )
    assert bundled.status_code == 422
    assert "separate-consent notice" in bundled.json()["detail"]

    # The general consent holds for the customer's own subsidiary, never for the bank.
    own = check(
        client, tokens, LIFE, purpose="marketing", category="pi.contact.phone", recipient="life"
    )
    assert own["allowed"] is True
    for purpose in ("marketing", "cross_sell"):
        to_bank = check(
            client, tokens, LIFE, purpose=purpose, category="pi.contact.phone", recipient="bank"
        )
        assert (to_bank["allowed"], to_bank["reason"]) == (False, "no_consent")

    specific = app_grant(
        client,
        tokens,
        LIFE,
        notice_key="life-to-bank-cross-sell",
        notice_version=1,
        category="pi.contact.phone",
        recipient="bank",
    )
    assert specific.status_code == 201, specific.text
    to_bank = check(
        client, tokens, LIFE, purpose="cross_sell", category="pi.contact.phone", recipient="bank"
    )
    assert to_bank["allowed"] is True
    assert to_bank["consent_id"] == specific.json()["record"]["record_id"]
    assert (
        specific.json()["record"]["notice_text_hash"]
        == hashlib.sha256(CROSS_SELL_TEXT.encode()).hexdigest()
    )
    # Exactly the consented category: the address is not covered by this record.
    other = check(
        client, tokens, LIFE, purpose="cross_sell", category="pi.contact.address", recipient="bank"
    )
    assert other["allowed"] is False


def test_a_bundled_notice_can_never_carry_a_biometric_category(
    client: TestClient, tokens: Tokens
) -> None:
    bundle = {
        "notice_key": "everything-at-once",
        "version": 1,
        "purpose": "一揽子同意",
        "purpose_code": "identity_verification",
        "separate_consent": True,
        "categories": ["spi.biometric.voiceprint", "pi.contact.phone"],
        "recipients": ["group"],
        "retention_days": 365,
        "text_zh": "本同意书一并涵盖声纹与联系方式的采集与使用，请您仔细阅读。",
    }
    response = client.post(NOTICES, json=bundle, headers=tokens.user("legal.qian"))
    assert response.status_code == 422
    not_separate = {**bundle, "categories": ["spi.biometric.voiceprint"], "separate_consent": False}
    assert (
        client.post(NOTICES, json=not_separate, headers=tokens.user("legal.qian")).status_code
        == 422
    )


def test_a_record_that_is_not_a_separate_consent_never_satisfies_the_check() -> None:
    now = datetime.now(UTC)
    bundled = ConsentRecord(
        seq=1,
        record_id="r1",
        customer_id=LIFE,
        customer_subsidiary="life",
        action="grant",
        purpose="cross_sell",
        category="pi.contact.phone",
        recipient="bank",
        notice_id=1,
        notice_key="bundle",
        notice_version=1,
        notice_text_hash="0" * 64,
        separate_consent=False,
        channel="app",
        operator="life-claims-system",
        operator_kind="client",
        assurance_level="L0",
        recorded_at=now,
        expires_at=now + timedelta(days=1),
    )
    to_bank = ConsentCheckRequest(
        customer_id=LIFE, purpose="cross_sell", category="pi.contact.phone", recipient="bank"
    )
    result, _ = evaluate(bundled, to_bank, now)
    assert (result.allowed, result.reason) == (False, "not_separate")
    biometric = bundled.model_copy(
        update={"category": "spi.biometric.voiceprint", "recipient": "group"}
    )
    request = ConsentCheckRequest(
        customer_id=LIFE,
        purpose="cross_sell",
        category="spi.biometric.voiceprint",
        recipient="group",
    )
    assert evaluate(biometric, request, now)[0].reason == "not_separate"
    own = bundled.model_copy(update={"recipient": "life"})
    request = ConsentCheckRequest(
        customer_id=LIFE, purpose="cross_sell", category="pi.contact.phone", recipient="life"
    )
    assert evaluate(own, request, now)[0].allowed is True


# --------------------------------------------------------------------------- withdrawal and cache


def test_withdrawal_takes_effect_at_once_and_is_announced(
    app: FastAPI, client: TestClient, tokens: Tokens
) -> None:
    granted = grant_voiceprint(client, tokens)["record"]
    cache: CheckCache = app.state.consent_cache
    for _ in range(3):
        assert check(client, tokens, LIFE, **VOICEPRINT_SCOPE)["allowed"] is True
    assert cache.hits >= 2

    response = client.post(
        WITHDRAWALS,
        json={
            "customer_id": LIFE,
            "channel": "call",
            "recording_hash": RECORDING_HASH,
            **VOICEPRINT_SCOPE,
        },
        headers=tokens.on_call(LIFE),
    )
    assert response.status_code == 201
    withdrawal = response.json()["record"]
    assert (withdrawal["action"], withdrawal["ends_record_id"]) == (
        "withdraw",
        granted["record_id"],
    )

    answer = check(client, tokens, LIFE, **VOICEPRINT_SCOPE)
    assert (answer["allowed"], answer["reason"], answer["consent_id"]) == (
        False,
        "withdrawn",
        withdrawal["record_id"],
    )
    events = outbox(app, "consent.withdrawn")
    assert len(events) == 1
    event = events[0]
    assert set(event) == {
        "event_id",
        "customer_id",
        "purpose",
        "category",
        "recipient",
        "consent_id",
        "withdrawn_at",
    }
    assert (event["customer_id"], event["consent_id"]) == (LIFE, granted["record_id"])
    assert (event["purpose"], event["category"], event["recipient"]) == (
        "identity_verification",
        "spi.biometric.voiceprint",
        "group",
    )
    assert datetime.fromisoformat(event["withdrawn_at"]) == datetime.fromisoformat(
        withdrawal["recorded_at"]
    )
    # Processing before the withdrawal stays on record as lawful: the grant is still there.
    with app.state.runtime.database.session() as session:
        actions = session.exec(select(ConsentRecord.action).order_by(col(ConsentRecord.seq))).all()
    assert list(actions) == ["grant", "withdraw"]


def test_the_withdrawal_event_is_delivered_to_identity_and_profile(
    app: FastAPI, client: TestClient, tokens: Tokens, profile: Profile
) -> None:
    grant_voiceprint(client, tokens)
    client.post(
        WITHDRAWALS,
        json={
            "customer_id": LIFE,
            "channel": "call",
            "recording_hash": RECORDING_HASH,
            **VOICEPRINT_SCOPE,
        },
        headers=tokens.on_call(LIFE),
    )
    relay = app.state.runtime.relay
    client.portal.call(relay.run_once)  # type: ignore[union-attr]
    for path in ("/internal/v1/consent-events",):
        events = profile.delivered.get(path, [])
        # identity and profile share the path; each got the batch once
        assert len(events) == 2
        assert {e["customer_id"] for e in events} == {LIFE}


def test_a_withdrawal_on_one_replica_invalidates_every_replicas_cache(
    tmp_path: Path, profile: Profile
) -> None:
    settings = consent_settings(tmp_path)
    first = create_app(settings, http_transport=httpx.MockTransport(profile))
    second = create_app(settings, http_transport=httpx.MockTransport(profile))
    with TestClient(first) as one, TestClient(second) as two:
        tokens = Tokens(tmp_path / "keys")
        grant_voiceprint(one, tokens)
        for replica in (one, two):
            for _ in range(2):
                assert check(replica, tokens, LIFE, **VOICEPRINT_SCOPE)["allowed"] is True
        assert first.state.consent_cache.hits >= 1 and second.state.consent_cache.hits >= 1

        response = two.post(
            WITHDRAWALS,
            json={
                "customer_id": LIFE,
                "channel": "call",
                "recording_hash": RECORDING_HASH,
                **VOICEPRINT_SCOPE,
            },
            headers=tokens.on_call(LIFE),
        )
        assert response.status_code == 201
        assert check(one, tokens, LIFE, **VOICEPRINT_SCOPE)["allowed"] is False
        assert check(two, tokens, LIFE, **VOICEPRINT_SCOPE)["allowed"] is False


def test_only_services_the_policy_names_may_check(client: TestClient, tokens: Tokens) -> None:
    body = {"customer_id": LIFE, **VOICEPRINT_SCOPE}
    assert client.post(CHECK, json=body, headers=tokens.service("audit")).status_code == 403
    assert client.post(CHECK, json=body, headers=tokens.user("agent.li")).status_code == 401
    assert client.post(CHECK, json=body).status_code == 401
    assert (
        client.post(
            CHECK, json={**body, "extra": 1}, headers=tokens.service("identity")
        ).status_code
        == 422
    )


# --------------------------------------------------------------------------- expiry


def test_consents_expire_when_the_notice_retention_ends(
    app: FastAPI, client: TestClient, tokens: Tokens
) -> None:
    granted = grant_voiceprint(client, tokens)["record"]
    assert check(client, tokens, LIFE, **VOICEPRINT_SCOPE)["allowed"] is True
    after = datetime.fromisoformat(granted["expires_at"]) + timedelta(seconds=1)

    with app.state.runtime.database.session() as session:
        record = session.exec(select(ConsentRecord)).one()
    result, _ = evaluate(record, ConsentCheckRequest(customer_id=LIFE, **VOICEPRINT_SCOPE), after)
    assert (result.allowed, result.reason) == (False, "expired")

    with app.state.runtime.database.session() as session:
        assert expire_due(session, now=after - timedelta(days=1)) == 0
    with app.state.runtime.database.session() as session:
        assert expire_due(session, now=after) == 1
    with app.state.runtime.database.session() as session:
        assert expire_due(session, now=after) == 0

    answer = check(client, tokens, LIFE, **VOICEPRINT_SCOPE)
    assert (answer["allowed"], answer["reason"]) == (False, "expired")
    events = outbox(app, "consent.withdrawn")
    assert [e["consent_id"] for e in events] == [granted["record_id"]]
    assert datetime.fromisoformat(events[0]["withdrawn_at"]) == datetime.fromisoformat(
        granted["expires_at"]
    )


# --------------------------------------------------------------------------- the customer's copy


def test_the_export_reproduces_the_full_history_with_the_exact_notice_text(
    app: FastAPI, client: TestClient, tokens: Tokens
) -> None:
    grant_voiceprint(client, tokens)
    client.post(
        WITHDRAWALS,
        json={
            "customer_id": LIFE,
            "channel": "call",
            "recording_hash": RECORDING_HASH,
            **VOICEPRINT_SCOPE,
        },
        headers=tokens.on_call(LIFE),
    )
    assert (
        app_grant(
            client,
            tokens,
            LIFE,
            notice_key="life-to-bank-cross-sell",
            notice_version=1,
            category="pi.identity.name",
            recipient="bank",
        ).status_code
        == 201
    )

    assert (
        client.get(
            f"/api/v1/consent/customers/{LIFE}/export", headers=tokens.on_call(LIFE, "L1")
        ).status_code
        == 403
    )
    response = client.get(
        f"/api/v1/consent/customers/{LIFE}/export", headers=tokens.on_call(LIFE, "L2")
    )
    assert response.status_code == 200, response.text
    copy = response.json()
    assert [r["action"] for r in copy["records"]] == ["grant", "withdraw", "grant"]
    texts = {r["notice_key"]: r["notice"]["text_zh"] for r in copy["records"]}
    assert texts == {
        "biometric-voiceprint": VOICEPRINT_TEXT,
        "life-to-bank-cross-sell": CROSS_SELL_TEXT,
    }
    for record in copy["records"]:
        assert record["notice"]["hash_verified"] is True
        assert (
            record["notice_text_hash"]
            == hashlib.sha256(record["notice"]["text_zh"].encode()).hexdigest()
        )
    assert copy["records"][0]["recording_hash"] == RECORDING_HASH
    assert copy["records"][2]["evidence_ref"] == "app-receipt:42"
    assert {(s["category"], s["status"]) for s in copy["current"]} == {
        ("spi.biometric.voiceprint", "withdrawn"),
        ("pi.identity.name", "granted"),
    }

    as_csv = client.get(
        f"/api/v1/consent/customers/{LIFE}/export",
        params={"format": "csv"},
        headers=tokens.user("legal.qian"),
    )
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert len(rows) == 4
    header = rows[0]
    assert "告知书全文 notice_text" in header
    by_column = [dict(zip(header, row, strict=True)) for row in rows[1:]]
    assert by_column[0]["告知书全文 notice_text"] == VOICEPRINT_TEXT
    assert by_column[1]["操作 action"] == "撤回 withdraw"
    assert {row["哈希核验 hash_verified"] for row in by_column} == {"一致 ok"}


def test_the_current_state_answers_what_holds_now(client: TestClient, tokens: Tokens) -> None:
    grant_voiceprint(client, tokens)
    response = client.get(
        f"/api/v1/consent/customers/{LIFE}/consents", headers=tokens.on_call(LIFE)
    )
    assert response.status_code == 200
    items = response.json()["items"]
    assert [(i["category"], i["status"]) for i in items] == [
        ("spi.biometric.voiceprint", "granted")
    ]
    other = client.get(
        f"/api/v1/consent/customers/{BANK_CUSTOMER}/consents", headers=tokens.on_call(BANK_CUSTOMER)
    )
    assert other.status_code == 403


# --------------------------------------------------------------------------- notice lifecycle


def test_legal_staff_draft_publish_and_retire_a_notice(
    app: FastAPI, client: TestClient, tokens: Tokens
) -> None:
    staff = tokens.user("legal.qian")
    definition = {
        "notice_key": "pc-claims-photos",
        "version": 1,
        "purpose": "理赔照片用于定损",
        "purpose_code": "claims_assessment",
        "categories": ["pi.insurance.policy_number"],
        "recipients": ["pc"],
        "retention_days": 30,
        "text_zh": "我们将使用您提供的理赔照片与保单号码进行定损，保存三十天。",
    }
    assert client.post(NOTICES, json=definition, headers=tokens.user("agent.li")).status_code == 403
    created = client.post(NOTICES, json=definition, headers=staff)
    assert created.status_code == 201
    notice = created.json()["notice"]
    assert (notice["status"], notice["published_at"]) == ("draft", None)
    assert notice["text_hash"] == hashlib.sha256(definition["text_zh"].encode()).hexdigest()
    assert client.post(NOTICES, json=definition, headers=staff).status_code == 409
    unknown = client.post(
        NOTICES, json={**definition, "version": 2, "categories": ["pi.made.up"]}, headers=staff
    )
    assert unknown.status_code == 422

    path = f"{NOTICES}/pc-claims-photos/versions/1"
    assert client.post(f"{path}/retire", headers=staff).status_code == 409
    assert client.post(f"{path}/publish", headers=tokens.user("agent.li")).status_code == 403
    published = client.post(f"{path}/publish", headers=staff)
    assert published.status_code == 200
    assert published.json()["notice"]["status"] == "published"
    assert client.post(f"{path}/publish", headers=staff).status_code == 409
    listed = client.get(NOTICES, headers=tokens.user("agent.li")).json()["items"]
    assert "pc-claims-photos" in {item["notice_key"] for item in listed}
    retired = client.post(f"{path}/retire", headers=staff)
    assert retired.json()["notice"]["status"] == "retired"
    assert client.get(path, headers=staff).json()["notice"]["retired_at"] is not None
    assert client.post(f"{NOTICES}/no-such/versions/1/publish", headers=staff).status_code == 404


def test_a_grant_is_ended_at_most_once_whichever_replica_races(
    app: FastAPI, client: TestClient, tokens: Tokens
) -> None:
    granted = grant_voiceprint(client, tokens)["record"]
    response = client.post(
        WITHDRAWALS,
        json={
            "customer_id": LIFE,
            "channel": "call",
            "recording_hash": RECORDING_HASH,
            **VOICEPRINT_SCOPE,
        },
        headers=tokens.on_call(LIFE),
    )
    assert response.status_code == 201
    with app.state.runtime.database.session() as session:
        withdrawal = session.exec(
            select(ConsentRecord).where(ConsentRecord.action == "withdraw")
        ).one()
        duplicate = withdrawal.model_copy(
            update={"seq": None, "record_id": uuid.uuid4().hex, "action": "expire"}
        )
    with pytest.raises(sa.exc.IntegrityError), app.state.runtime.database.session() as session:
        session.add(ConsentRecord.model_validate(duplicate.model_dump()))
        session.flush()
    assert duplicate.ends_record_id == granted["record_id"]
    assert record_count(app) == 2
