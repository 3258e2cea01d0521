"""Issue 4's acceptance through the real suite: consent recorded, checked, withdrawn at once.

The check is the consent service's internal API, called the way profile and
identity call it: with a service token signed by profile's own key.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from anxin_profile.demo_data import DemoCustomer, generate_customers
from anxin_shared.keys import load_key, private_key_path
from anxin_shared.tokens import TokenSigner
from tests.support import RunningSuite

pytestmark = pytest.mark.e2e

RECORDS = "/api/v1/consent/records"
WITHDRAWALS = "/api/v1/consent/withdrawals"
# The acceptance asks for at least 500 trials; they run on SQLite (the embedded default).
# On PostgreSQL (CI's second pass) the same trial runs fewer times to keep `make test` short.
TRIALS = {"sqlite": 500, "postgres": 150}
CUSTOMERS = generate_customers()
LIFE = [c for c in CUSTOMERS if c.subsidiary == "life"]
PC = [c for c in CUSTOMERS if c.subsidiary == "pc"]
RECORDING_HASH = hashlib.sha256(b"the customer said: I agree").hexdigest()


@dataclass
class Consent:
    """Talks to the suite as staff, subsidiary systems and (for checks) as profile."""

    suite: RunningSuite
    tokens: dict[str, str] = field(default_factory=dict)
    throttled: int = 0

    def headers(self, subject: str, **extra: str) -> dict[str, str]:
        if subject not in self.tokens:
            self.tokens[subject] = self.suite.token(subject)
        return {"authorization": f"Bearer {self.tokens[subject]}", **extra}

    def request(
        self, method: str, path: str, subject: str, body: Any = None, **headers: str
    ) -> httpx.Response:
        """A call through the gateway, waiting out the per-client rate limit if it bites."""
        while True:
            response = self.suite.client.request(
                method,
                f"{self.suite.gateway}{path}",
                json=body,
                headers=self.headers(subject, **headers),
            )
            if response.status_code != 429:
                return response
            self.throttled += 1
            # The bucket refills continuously; Retry-After rounds up to whole seconds.
            time.sleep(0.05)

    def post(self, path: str, subject: str, body: dict[str, Any], **headers: str) -> httpx.Response:
        """POST through the gateway."""
        return self.request("POST", path, subject, body, **headers)

    def verified_call(self, agent: str, candidates: list[DemoCustomer]) -> tuple[str, str] | None:
        """(call session, customer) of a call lifted to L1 by a registered number, if any."""
        for customer in candidates:
            opened = self.post(
                "/api/v1/calls",
                agent,
                {"ani": customer.mobile, "channel": "voice", "attestation": "A"},
            )
            assert opened.status_code == 201, opened.text
            call = opened.json()
            if call["assurance_level"] != "L0" and call.get("customer_id") == customer.customer_id:
                return call["id"], customer.customer_id
        return None

    @cached_property
    def _profile_signer(self) -> TokenSigner:
        keys = self.suite.suite.var_dir / "keys"
        return TokenSigner("anxin-profile", load_key(private_key_path(keys, "profile")), "profile")

    def _service_token(self) -> str:
        return self._profile_signer.mint(
            "service:profile", "anxin-consent", 60, kind="service", subsidiary="group"
        )

    def check(
        self, customer_id: str, purpose: str, category: str, recipient: str
    ) -> dict[str, Any]:
        """The internal check, as profile asks it."""
        response = self.suite.client.post(
            self.suite.suite.url("consent") + "/internal/v1/consent:check",
            json={
                "customer_id": customer_id,
                "purpose": purpose,
                "category": category,
                "recipient": recipient,
            },
            headers={"authorization": f"Bearer {self._service_token()}"},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    @cached_property
    def engine(self) -> sa.Engine:
        url = self.suite.suite.extra_env.get("ANXIN_CONSENT_DATABASE_URL")
        return sa.create_engine(url or f"sqlite:///{self.suite.suite.var_dir / 'consent.db'}")

    def scalar(self, query: str, **params: Any) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(sa.text(query), params).scalar()

    def withdrawn_events(self) -> list[str]:
        """The payloads of the consent outbox's `consent.withdrawn` events."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT payload FROM outbox_event WHERE topic = 'consent.withdrawn'")
            )
            return [row[0] for row in rows]


@pytest.fixture
def consent(running_suite: RunningSuite) -> Iterator[Consent]:
    helper = Consent(running_suite)
    yield helper
    if "engine" in helper.__dict__:
        helper.engine.dispose()


def app_evidence() -> dict[str, str]:
    return {"channel": "app", "evidence_ref": f"app-receipt:{uuid.uuid4().hex[:12]}"}


def test_an_agent_on_a_verified_call_records_a_consent_and_the_check_allows(
    consent: Consent,
) -> None:
    customer = LIFE[3]
    opened = consent.post(
        "/api/v1/calls",
        "agent.li",
        {"ani": customer.mobile, "channel": "voice", "attestation": "A"},
    )
    assert opened.status_code == 201, opened.text
    call = opened.json()
    if call["assurance_level"] == "L0" or call.get("customer_id") is None:
        pytest.skip(
            "identity does not yet lift a call from a registered number with attestation A "
            "to L1 with its customer linked (needs profile's contact-points:match)"
        )
    customer_id = call["customer_id"]
    body = {
        "customer_id": customer_id,
        "notice_key": "biometric-voiceprint",
        "notice_version": 1,
        "category": "spi.biometric.voiceprint",
        "recipient": "group",
        "channel": "call",
        "recording_hash": RECORDING_HASH,
    }
    without_call = consent.post(RECORDS, "agent.li", body)
    assert without_call.status_code == 403

    response = consent.post(RECORDS, "agent.li", body, **{"X-Anxin-Call-Session": call["id"]})
    assert response.status_code == 201, response.text
    record = response.json()["record"]
    assert record["call_session"] == call["id"]
    assert record["recording_ref"] == f"call-recording:{call['id']}"
    assert record["recording_hash"] == RECORDING_HASH
    assert record["operator"] == "agent.li"
    answer = consent.check(
        customer_id, "identity_verification", "spi.biometric.voiceprint", "group"
    )
    assert answer["allowed"] is True
    assert (answer["consent_id"], answer["notice_key"], answer["notice_version"]) == (
        record["record_id"],
        "biometric-voiceprint",
        1,
    )


def test_sharing_with_another_subsidiary_needs_a_recipient_specific_consent(
    consent: Consent,
) -> None:
    customer = LIFE[5].customer_id
    marketing = {"notice_key": "marketing-contact-preferences", "notice_version": 1}
    general = consent.post(
        RECORDS,
        "life-claims-system",
        {"customer_id": customer, "category": "pi.contact.phone", "recipient": "life"}
        | marketing
        | app_evidence(),
    )
    assert general.status_code == 201, general.text
    bundled = consent.post(
        RECORDS,
        "life-claims-system",
        {"customer_id": customer, "category": "pi.contact.phone", "recipient": "bank"}
        | marketing
        | app_evidence(),
    )
    assert bundled.status_code == 422
    for purpose in ("marketing", "cross_sell"):
        assert consent.check(customer, purpose, "pi.contact.phone", "bank")["allowed"] is False

    specific = consent.post(
        RECORDS,
        "life-claims-system",
        {
            "customer_id": customer,
            "notice_key": "life-to-bank-cross-sell",
            "notice_version": 1,
            "category": "pi.contact.phone",
            "recipient": "bank",
        }
        | app_evidence(),
    )
    assert specific.status_code == 201, specific.text
    answer = consent.check(customer, "cross_sell", "pi.contact.phone", "bank")
    assert answer["allowed"] is True
    assert answer["consent_id"] == specific.json()["record"]["record_id"]
    # The bank's own system cannot record (or withdraw) consent for the insurer's customer.
    foreign = consent.post(
        WITHDRAWALS,
        "bank-crm-system",
        {
            "customer_id": customer,
            "purpose": "cross_sell",
            "category": "pi.contact.phone",
            "recipient": "bank",
        }
        | app_evidence(),
    )
    assert foreign.status_code == 403
    assert consent.check(customer, "cross_sell", "pi.contact.phone", "bank")["allowed"] is True


def test_bad_input_is_refused_and_nothing_is_stored(consent: Consent) -> None:
    customer = LIFE[7].customer_id
    before = consent.scalar("SELECT count(*) FROM consent_record")
    good = {
        "customer_id": customer,
        "notice_key": "life-to-bank-cross-sell",
        "notice_version": 1,
        "category": "pi.contact.phone",
        "recipient": "bank",
    } | app_evidence()
    cases = [
        ({"notice_key": "no-such-notice"}, 422),
        ({"notice_version": 9}, 422),
        ({"customer_id": "C999999"}, 403),
        ({"category": "spi.financial.bank_account"}, 422),
        ({"channel": "call", "recording_hash": "not-a-sha256"}, 422),
        ({"subsidiary": "bank"}, 422),
    ]
    for change, status in cases:
        response = consent.post(RECORDS, "life-claims-system", good | change)
        assert response.status_code == status, (change, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    never = consent.post(
        WITHDRAWALS,
        "life-claims-system",
        {"customer_id": customer, "purpose": "marketing", "category": "pi.contact.email"}
        | {"recipient": "life"}
        | app_evidence(),
    )
    assert never.status_code == 409
    for method in ("PUT", "PATCH", "DELETE"):
        response = consent.suite.client.request(
            method, f"{consent.suite.gateway}{RECORDS}", headers=consent.headers("legal.qian")
        )
        assert response.status_code == 405
    assert consent.scalar("SELECT count(*) FROM consent_record") == before


@dataclass
class Lane:
    """One recorder granting and withdrawing one life customer's consent to share with the bank.

    The recorder is the insurer's own system (app channel) or an agent on a call
    verified for that customer (call channel); the reader is the bank's system,
    asking profile's gated-sharing endpoint for the customer's data.
    """

    recorder: str
    customer: str
    call_session: str | None = None
    purpose: str = "cross_sell"
    category: str = "pi.contact.phone"
    recipient: str = "bank"
    shared_before: int = 0
    reads_before: int = 0
    allowed_before: int = 0
    shared_after: int = 0
    allowed_after: int = 0
    reasons: set[str] = field(default_factory=set)
    granted_ids: list[str] = field(default_factory=list)

    def evidence(self) -> dict[str, str]:
        if self.call_session is None:
            return app_evidence()
        return {"channel": "call", "recording_hash": RECORDING_HASH}

    def headers(self) -> dict[str, str]:
        return {} if self.call_session is None else {"X-Anxin-Call-Session": self.call_session}

    def shared_read(self, consent: Consent) -> int:
        response = consent.request(
            "GET",
            f"/api/v1/shared/customers/{self.customer}?purpose={self.purpose}",
            "bank-crm-system",
        )
        assert response.status_code in (200, 403), response.text
        return int(response.status_code == 200 and "mobile" in response.json()["fields"])

    def run(self, consent: Consent, trials: int) -> None:
        """Back to back: grant, check (a cached allow), withdraw, then read and check at once."""
        scope = (self.customer, self.purpose, self.category, self.recipient)
        for trial in range(trials):
            granted = consent.post(
                RECORDS,
                self.recorder,
                {
                    "customer_id": self.customer,
                    "notice_key": "life-to-bank-cross-sell",
                    "notice_version": 1,
                    "category": self.category,
                    "recipient": self.recipient,
                }
                | self.evidence(),
                **self.headers(),
            )
            assert granted.status_code == 201, granted.text
            self.granted_ids.append(granted.json()["record"]["record_id"])
            # This answer is cached by the consent service: the withdrawal must invalidate it.
            self.allowed_before += consent.check(*scope)["allowed"]
            if trial % 10 == 0:  # the shared read works while the consent holds
                self.reads_before += 1
                self.shared_before += self.shared_read(consent)
            withdrawn = consent.post(
                WITHDRAWALS,
                self.recorder,
                {"customer_id": self.customer, "purpose": self.purpose}
                | {"category": self.category, "recipient": self.recipient}
                | self.evidence(),
                **self.headers(),
            )
            assert withdrawn.status_code == 201, withdrawn.text
            self.shared_after += self.shared_read(consent)
            answer = consent.check(*scope)
            self.allowed_after += answer["allowed"]
            self.reasons.add(answer["reason"])


def test_after_the_withdrawal_returns_no_shared_read_succeeds(consent: Consent) -> None:
    """Hundreds of withdrawals, three recorders side by side: 0 shared reads after any."""
    lanes = [Lane("life-claims-system", LIFE[10].customer_id)]
    for agent, candidates in (("senior.chen", LIFE[11:16]), ("supervisor.liu", LIFE[16:21])):
        call = consent.verified_call(agent, candidates)
        if call is None:  # identity cannot lift a call to L1: the insurer's system records
            lanes.append(Lane("life-claims-system", candidates[0].customer_id))
        else:
            lanes.append(Lane(agent, call[1], call_session=call[0]))
    assert len({lane.customer for lane in lanes}) == len(lanes)
    wanted = TRIALS[consent.suite.backend]
    per_lane = -(-wanted // len(lanes))
    for subject in {lane.recorder for lane in lanes} | {"bank-crm-system"}:
        consent.headers(subject)  # fetch tokens and keys before the threads start
    assert consent._profile_signer is not None
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(lanes)) as pool:
        for future in [pool.submit(lane.run, consent, per_lane) for lane in lanes]:
            future.result()
    elapsed = time.monotonic() - started

    trials = per_lane * len(lanes)
    assert trials >= wanted
    assert sum(lane.allowed_before for lane in lanes) == trials
    assert sum(lane.shared_before for lane in lanes) == sum(lane.reads_before for lane in lanes)
    assert sum(lane.shared_after for lane in lanes) == 0
    assert sum(lane.allowed_after for lane in lanes) == 0
    assert set().union(*(lane.reasons for lane in lanes)) == {"withdrawn"}
    # Every withdrawal left its event in the consent outbox, naming the grant it ended.
    events = [json.loads(payload) for payload in consent.withdrawn_events()]
    ended = {event["consent_id"] for event in events}
    assert [i for lane in lanes for i in lane.granted_ids if i not in ended] == []
    for event in events:
        assert set(event) == {
            "event_id",
            "customer_id",
            "purpose",
            "category",
            "recipient",
            "consent_id",
            "withdrawn_at",
        }
    print(
        f"{trials} withdrawal trials ({[lane.recorder for lane in lanes]}) in {elapsed:.1f} s,"
        f" {consent.throttled} rate-limited requests retried"
    )


def test_notices_are_versioned_and_history_is_immutable_in_the_database(
    consent: Consent,
) -> None:
    key = f"pc-claims-{uuid.uuid4().hex[:8]}"
    text = "我们将使用您的保单号码核对理赔材料，保存三十天；您可以随时撤回同意。"
    draft = consent.post(
        "/api/v1/consent/notices",
        "legal.qian",
        {
            "notice_key": key,
            "version": 1,
            "purpose": "理赔核对",
            "purpose_code": "claims_check",
            "categories": ["pi.insurance.policy_number"],
            "recipients": ["pc"],
            "retention_days": 30,
            "text_zh": text,
        },
    )
    assert draft.status_code == 201, draft.text
    assert draft.json()["notice"]["text_hash"] == hashlib.sha256(text.encode()).hexdigest()
    grant = {
        "customer_id": PC[20].customer_id,
        "notice_key": key,
        "notice_version": 1,
        "category": "pi.insurance.policy_number",
        "recipient": "pc",
    }
    assert (
        consent.post(RECORDS, "pc-underwriting-system", grant | app_evidence()).status_code == 422
    )
    published = consent.post(f"/api/v1/consent/notices/{key}/versions/1/publish", "legal.qian", {})
    assert published.status_code == 200, published.text
    granted = consent.post(RECORDS, "pc-underwriting-system", grant | app_evidence())
    assert granted.status_code == 201, granted.text
    record_id = granted.json()["record"]["record_id"]

    for statement in (
        "UPDATE consent_record SET action = 'withdraw' WHERE record_id = :id",
        "DELETE FROM consent_record WHERE record_id = :id",
        "UPDATE consent_notice SET text_zh = 'edited' WHERE notice_key = :key",
        "DELETE FROM consent_notice WHERE notice_key = :key",
    ):
        with pytest.raises(sa.exc.DatabaseError), consent.engine.begin() as connection:
            connection.execute(sa.text(statement), {"id": record_id, "key": key})
    assert (
        consent.scalar("SELECT action FROM consent_record WHERE record_id = :id", id=record_id)
        == "grant"
    )
    assert (
        consent.scalar("SELECT text_zh FROM consent_notice WHERE notice_key = :key", key=key)
        == text
    )
