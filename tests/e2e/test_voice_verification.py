"""Issue 3, part 5 (voiceprints), end to end through the gateway on the seeded data.

Speech is made at test time by Debian's espeak-ng with clearly different voices
(A enrolls, B is someone else, C is a known fraudster); the identity process
runs the real resemblyzer engine. The biometric consent is recorded through the
consent service on the verified call, withdrawn the same way, and the
withdrawal reaches identity through consent's outbox.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import httpx
import pytest

from anxin_profile.demo_data import DemoCustomer, generate_customers
from tests.support import RunningSuite
from tests.voice_samples import SENTENCES, VOICE_A, VOICE_B, VOICE_C, silence, speak, white_noise

pytestmark = pytest.mark.e2e

HEADER = "X-Anxin-Call-Session"
WATCHLIST = "/api/v1/voiceprint-watchlist"
RECORDING_HASH = hashlib.sha256(b"the customer agreed to a voiceprint").hexdigest()
LIFE = [c for c in generate_customers() if c.subsidiary == "life"]


class Gateway:
    """Requests through the gateway as seeded staff, waiting out the rate limit."""

    def __init__(self, suite: RunningSuite) -> None:
        self.suite = suite
        self.tokens: dict[str, str] = {}

    def __call__(
        self,
        method: str,
        path: str,
        subject: str = "agent.li",
        session: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        if subject not in self.tokens:
            self.tokens[subject] = self.suite.token(subject)
        headers = {"authorization": f"Bearer {self.tokens[subject]}"}
        if session is not None:
            headers[HEADER] = session
        url = f"{self.suite.gateway}{path}"
        while True:
            response = self.suite.client.request(method, url, headers=headers, **kwargs)
            if response.status_code != 429:
                return response
            time.sleep(float(response.headers.get("retry-after", "1")))

    def open_call(self, customer: DemoCustomer) -> str:
        opened = self(
            "POST",
            "/api/v1/calls",
            json={"ani": customer.mobile, "channel": "voice", "attestation": "A"},
        )
        assert opened.status_code == 201, opened.text
        assert opened.json()["assurance_level"] == "L1", opened.json()
        call_id: str = opened.json()["id"]
        return call_id

    def reach_l2(self, call_id: str, customer: DemoCustomer) -> None:
        answers = {
            "id_last4": customer.id_number[-4:],
            "birth_date": customer.birth_date.strftime("%Y年%m月%d日"),
        }
        for question, text in answers.items():
            response = self(
                "POST",
                f"/api/v1/calls/{call_id}/knowledge-answers",
                json={"question_id": question, "answer": text},
            )
            assert response.status_code == 200 and response.json()["correct"], response.text
        assert response.json()["session"]["assurance_level"] == "L2"

    def enroll(self, call_id: str, *recordings: bytes) -> httpx.Response:
        return self(
            "POST",
            f"/api/v1/calls/{call_id}/voiceprint/enrollment",
            session=call_id,
            files=[("utterances", (f"{i}.wav", r, "audio/wav")) for i, r in enumerate(recordings)],
        )

    def verify(self, call_id: str, recording: bytes) -> httpx.Response:
        return self(
            "POST",
            f"/api/v1/calls/{call_id}/voiceprint/verification",
            session=call_id,
            files={"audio": ("call.wav", recording, "audio/wav")},
        )

    def consent(self, path: str, call_id: str, customer: DemoCustomer, **body: Any) -> None:
        scope = {
            "customer_id": customer.customer_id,
            "category": "spi.biometric.voiceprint",
            "recipient": "group",
            "channel": "call",
            "recording_hash": RECORDING_HASH,
        }
        response = self("POST", path, session=call_id, json=scope | body)
        assert response.status_code == 201, response.text


@pytest.fixture(scope="module")
def voices() -> dict[str, bytes]:
    return {
        "a1": speak(VOICE_A, SENTENCES[0]),
        "a2": speak(VOICE_A, SENTENCES[1]),
        "a_new": speak(VOICE_A, SENTENCES[2]),
        "b_new": speak(VOICE_B, SENTENCES[2]),
        "c1": speak(VOICE_C, SENTENCES[3]),
        "c2": speak(VOICE_C, SENTENCES[4]),
        "c_new": speak(VOICE_C, SENTENCES[5]),
    }


def test_voiceprint_enrollment_verification_watchlist_and_withdrawal(
    running_suite: RunningSuite, voices: dict[str, bytes]
) -> None:
    gateway = Gateway(running_suite)
    customer = LIFE[30]
    call_id = gateway.open_call(customer)

    # Enrolling binds a voice to the customer: refused below L2 ...
    low = gateway.enroll(call_id, voices["a1"], voices["a2"])
    assert low.status_code == 403 and "L2" in low.json()["detail"], low.text
    gateway.reach_l2(call_id, customer)
    # ... and without the customer's separate biometric consent.
    refused = gateway.enroll(call_id, voices["a1"], voices["a2"])
    assert refused.status_code == 403, refused.text
    assert refused.json()["failed_fact"] == "biometric_consent"

    gateway.consent(
        "/api/v1/consent/records",
        call_id,
        customer,
        notice_key="biometric-voiceprint",
        notice_version=1,
    )
    enrolled = gateway.enroll(call_id, voices["a1"], voices["a2"])
    assert enrolled.status_code == 201, enrolled.text
    assert enrolled.json()["utterances"] == 2 and enrolled.json()["consent_id"]

    same = gateway.verify(call_id, voices["a_new"])
    assert same.status_code == 200, same.text
    assert same.json()["result"] == "match", same.json()
    assert same.json()["assurance_level"] == "L3"  # knowledge + voiceprint
    other = gateway.verify(call_id, voices["b_new"])
    assert other.json()["result"] == "mismatch", other.json()
    assert other.json()["score"] < other.json()["threshold"] <= same.json()["score"]
    for name, recording in (("silence", silence()), ("noise", white_noise())):
        empty = gateway.verify(call_id, recording)
        assert empty.status_code == 200, empty.text
        assert empty.json()["result"] == "insufficient_audio", name
        assert empty.json()["score"] is None
    bad = gateway.verify(call_id, b"not a wav at all")
    assert bad.status_code == 422 and "not a WAV" in bad.json()["detail"]

    # A known fraudster's voice on the watchlist: a hit, an alert for security staff.
    added = gateway(
        "POST",
        WATCHLIST,
        "secadmin.wu",
        data={"label": "CASE-E2E-1"},
        files=[
            ("utterances", (f"{i}.wav", voices[k], "audio/wav")) for i, k in enumerate(("c1", "c2"))
        ],
    )
    assert added.status_code == 201, added.text
    assert gateway("GET", WATCHLIST, "agent.li").status_code == 403
    hit = gateway.verify(call_id, voices["c_new"])
    assert hit.status_code == 200, hit.text
    assert hit.json()["watchlist_hit"] is True and hit.json()["result"] == "mismatch"
    deadline = time.monotonic() + 30
    alerts: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not alerts:
        page = gateway("GET", "/api/v1/audit/alerts?rule=fraud_watchlist", "secadmin.wu")
        assert page.status_code == 200, page.text
        alerts = [a for a in page.json()["items"] if a.get("actor") == "agent.li"]
        if not alerts:
            time.sleep(0.5)
    assert alerts, "the watchlist hit raised no alert"

    # Withdrawing the biometric consent deletes the voiceprint (via consent's outbox).
    second = gateway.open_call(customer)
    gateway.consent(
        "/api/v1/consent/withdrawals", second, customer, purpose="identity_verification"
    )
    deadline = time.monotonic() + 30
    while True:
        gone = gateway.verify(second, voices["a_new"])
        if gone.status_code == 409 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert gone.status_code == 409 and "no voiceprint" in gone.json()["detail"], gone.text
