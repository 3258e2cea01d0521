"""Security education and fraud alerts end to end (issue 11, part 2), through the gateway.

Campaigns reach exactly the opted-in customers of a segment, wait out quiet hours, stop at
the frequency cap and at an opt-out made during the campaign; a spoofed ANI and a lockout
each produce exactly one fraud alert, delivered to the dev sink and recorded in the audit
trail as a template and variables; bad input is refused with a clear problem.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from typing import Any, TypeVar

import httpx
import pytest

from anxin_profile.demo_data import DemoCustomer, generate_customers
from anxin_profile.outreach.texts import SIGNAL_WORDS
from anxin_shared.messaging import read_sink
from tests.e2e.test_voice_verification import Gateway
from tests.support import RunningSuite
from tests.voice_samples import SENTENCES, VOICE_A, VOICE_C, speak

pytestmark = pytest.mark.e2e

SUBSIDIARY = "bank"
BANK = [c for c in generate_customers() if c.subsidiary == SUBSIDIARY]
LIFE = [c for c in generate_customers() if c.subsidiary == "life"]
STEWARD = "steward.gu"
_TOKENS: dict[tuple[int, str], str] = {}
T = TypeVar("T")


def api(suite: RunningSuite, method: str, path: str, subject: str, **kwargs: Any) -> httpx.Response:
    """One call through the gateway as `subject`, waiting out the rate limit if it bites."""
    key = (id(suite), subject)
    if key not in _TOKENS:
        _TOKENS[key] = suite.token(subject)
    headers = {"authorization": f"Bearer {_TOKENS[key]}", **kwargs.pop("headers", {})}
    while True:
        response = suite.client.request(method, f"{suite.gateway}{path}", headers=headers, **kwargs)
        if response.status_code != 429:
            return response
        time.sleep(float(response.headers.get("retry-after", "1")))


def wait_for(produce: Callable[[], T | None], timeout: float = 30.0) -> T:
    """Poll until `produce` returns something (the dispatcher and relays run in the background)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = produce()
        if found is not None:
            return found
        time.sleep(0.3)
    raise AssertionError("timed out waiting for the outreach pipeline")


def segment(customer: DemoCustomer) -> set[str]:
    """A demo customer's segments as the seed tags them."""
    tags = {customer.value_tier, customer.lifecycle_stage}
    return tags | ({"family"} if customer.household_id else set())


def opted_in(customer: DemoCustomer) -> bool:
    """The seed's `marketing_opt_in` rule."""
    return int(customer.customer_id[1:]) % 3 != 0


def create_campaign(suite: RunningSuite, seg: str, **extra: Any) -> dict[str, Any]:
    body = {
        "name": f"反诈宣传 {seg}",
        "subsidiary": SUBSIDIARY,
        "segment": seg,
        "template_id": "tpl-edu-sms-zh",
        **extra,
    }
    response = api(suite, "POST", "/api/v1/outreach/campaigns", STEWARD, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def messages(suite: RunningSuite, **query: str) -> list[dict[str, Any]]:
    response = api(suite, "GET", "/api/v1/outreach/messages", STEWARD, params=query)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def settled(suite: RunningSuite, campaign_id: str) -> dict[str, dict[str, Any]] | None:
    """A campaign's messages by customer once none is queued any more."""
    found = messages(suite, campaign_id=campaign_id)
    if any(m["status"] == "queued" for m in found):
        return None
    return {m["customer_id"]: m for m in found}


def sms_sink(suite: RunningSuite) -> list[dict[str, str]]:
    return read_sink(suite.suite.var_dir / "outreach-sms.jsonl")


def audit_of_message(suite: RunningSuite, message: dict[str, Any]) -> list[dict[str, Any]] | None:
    response = api(
        suite,
        "GET",
        "/api/v1/audit/events",
        "auditor.zheng",
        params={"customer_ref": message["customer_id"], "resource": "outreach.message"},
    )
    assert response.status_code == 200, response.text
    events = [item["event"] for item in response.json()["items"]]
    mine = [e for e in events if e.get("message_id") == message["message_id"]]
    return mine or None


# ------------------------------------------------------------------------------- campaigns


def test_a_campaign_reaches_exactly_the_opted_in_customers_of_a_segment(
    running_suite: RunningSuite,
) -> None:
    members = {c.customer_id for c in BANK if "platinum" in segment(c)}
    expected = {c.customer_id for c in BANK if "platinum" in segment(c) and opted_in(c)}
    campaign = create_campaign(running_suite, "platinum")
    by_customer = wait_for(lambda: settled(running_suite, campaign["campaign_id"]))
    # Active members only (another test may have erased or suspended one).
    assert set(by_customer) <= members and len(by_customer) >= len(members) - 2
    delivered = {c for c, m in by_customer.items() if m["status"] == "sent"}
    held = {c: m["reason"] for c, m in by_customer.items() if m["status"] == "suppressed"}
    assert delivered | set(held) == set(by_customer)
    assert delivered == expected & set(by_customer) - {
        c for c, reason in held.items() if reason == "frequency_cap"
    }
    assert {held[c] for c in set(by_customer) - expected} <= {"not_opted_in"}
    references = {line["reference"] for line in sms_sink(running_suite)}
    assert {by_customer[c]["message_id"] for c in delivered} <= references
    assert not {m["message_id"] for c, m in by_customer.items() if c not in delivered} & references
    counts = api(
        running_suite, "GET", f"/api/v1/outreach/campaigns/{campaign['campaign_id']}", STEWARD
    ).json()["counts"]
    assert counts["sent"] == len(delivered) and counts["targeted"] == len(by_customer)
    # Each message is on the audit trail as template and variables, in typed fields.
    sample = by_customer[sorted(delivered)[0]]
    [event] = wait_for(lambda: audit_of_message(running_suite, sample))
    assert event["kind"] == "outreach.message" and event["allowed"] is True
    assert (event["message_template"], event["message_variables"]) == (
        "tpl-edu-sms-zh",
        sample["variables"],
    )
    assert event["campaign_id"] == campaign["campaign_id"] and event["reasons"] == []
    assert (event["message_channel"], event["delivery_status"]) == ("sms", "queued")
    if held:
        refused = by_customer[sorted(held)[0]]
        [event] = wait_for(lambda: audit_of_message(running_suite, refused))
        assert event["allowed"] is False and event["delivery_status"] == "suppressed"
        assert event["delivery_reason"] == refused["reason"]


def test_an_opt_out_during_a_campaign_stops_further_messages(running_suite: RunningSuite) -> None:
    starts = datetime.now(UTC) + timedelta(seconds=8)
    campaign = create_campaign(running_suite, "dormant", scheduled_at=starts.isoformat())
    queued = sorted(
        m["customer_id"]
        for m in messages(running_suite, campaign_id=campaign["campaign_id"])
        if m["status"] == "queued"
    )
    assert len(queued) >= 2, "the demo data has opted-in dormant bank customers"
    quitter = queued[0]
    response = api(
        running_suite,
        "PUT",
        f"/api/v1/outreach/customers/{quitter}/opt-outs/security_education",
        STEWARD,
    )
    assert response.status_code == 200, response.text
    assert datetime.now(UTC) < starts, "the opt-out was meant to land during the campaign"
    by_customer = wait_for(lambda: settled(running_suite, campaign["campaign_id"]))
    assert (by_customer[quitter]["status"], by_customer[quitter]["reason"]) == (
        "suppressed",
        "opted_out",
    )
    others = {c for c in queued[1:] if by_customer[c]["reason"] != "frequency_cap"}
    assert others and all(by_customer[c]["status"] == "sent" for c in others)
    references = {line["reference"] for line in sms_sink(running_suite)}
    assert by_customer[quitter]["message_id"] not in references


def test_a_campaign_due_in_quiet_hours_waits_until_they_end(running_suite: RunningSuite) -> None:
    window = running_suite.suite.extra_env["ANXIN_PROFILE_OUTREACH_QUIET_HOURS"]
    start, end = (clock_time.fromisoformat(part) for part in window.split("-"))
    now = datetime.now(UTC)
    inside = datetime.combine(now.date(), start, tzinfo=UTC) + timedelta(minutes=30)
    while inside <= now:
        inside += timedelta(days=1)
    window_end = datetime.combine(inside.date(), end, tzinfo=UTC)
    if window_end <= inside:
        window_end += timedelta(days=1)
    campaign = create_campaign(running_suite, "prospect", scheduled_at=inside.isoformat())
    queued = [
        m
        for m in messages(running_suite, campaign_id=campaign["campaign_id"])
        if m["status"] == "queued"
    ]
    assert queued
    assert {datetime.fromisoformat(m["due_at"]) for m in queued} == {window_end}


def test_the_frequency_cap_holds_a_customer_at_the_cap(running_suite: RunningSuite) -> None:
    cap = 2  # ProfileSettings.outreach_frequency_cap (default)
    expected = {c.customer_id for c in BANK if "gold" in segment(c) and opted_in(c)}
    last: dict[str, dict[str, Any]] = {}
    for _ in range(cap + 1):
        campaign = create_campaign(running_suite, "gold")
        last = wait_for(lambda: settled(running_suite, campaign["campaign_id"]))  # noqa: B023
    capped = {c for c, m in last.items() if m["reason"] == "frequency_cap"}
    assert capped == expected & set(last)
    for customer_id in sorted(capped)[:3]:
        sent = [
            m
            for m in messages(running_suite, customer_id=customer_id)
            if m["purpose"] == "security_education" and m["status"] == "sent"
        ]
        assert len(sent) == cap


# ------------------------------------------------------------------------------- fraud alerts


def alerts_of(suite: RunningSuite, customer_id: str) -> list[dict[str, Any]] | None:
    found = [
        m
        for m in messages(suite, customer_id=customer_id)
        if m["purpose"] == "fraud_alert" and m["status"] == "sent"
    ]
    return found or None


def assert_one_recorded_alert(suite: RunningSuite, customer: DemoCustomer, signal: str) -> None:
    [alert] = wait_for(lambda: alerts_of(suite, customer.customer_id))
    assert alert["template_id"].startswith("tpl-alert-")
    assert alert["variables"]["event_kind"] == SIGNAL_WORDS["zh-CN"][signal]
    assert customer.mobile not in str(alert["variables"])
    sink = "outreach-sms.jsonl" if alert["channel"] == "sms" else "outreach-push.jsonl"
    [line] = [
        line
        for line in read_sink(suite.suite.var_dir / sink)
        if line["reference"] == alert["message_id"]
    ]
    assert "我们已拒绝" in line["text"] and customer.mobile not in str(line)
    [event] = wait_for(lambda: audit_of_message(suite, alert))
    assert event["message_template"] == alert["template_id"] and "campaign_id" not in event
    assert event["message_variables"] == alert["variables"]
    assert event["message_purpose"] == "fraud_alert" and event["fraud_signal_id"]
    assert customer.mobile not in str(event)
    # Still exactly one, a moment later (the signal is not replayed into a second alert).
    time.sleep(2)
    assert len(alerts_of(suite, customer.customer_id) or []) == 1


def test_a_spoofed_ani_on_a_registered_number_alerts_the_customer_once(
    running_suite: RunningSuite,
) -> None:
    customer = BANK[-1]
    opened = api(
        running_suite,
        "POST",
        "/api/v1/calls",
        "agent.wang",
        json={"ani": customer.mobile, "channel": "voice", "attestation": "C"},
    )
    assert opened.status_code == 201, opened.text
    assert_one_recorded_alert(running_suite, customer, "spoofed_ani")


def test_a_verification_lockout_alerts_the_customer_once(running_suite: RunningSuite) -> None:
    customer = BANK[-2]
    opened = api(
        running_suite,
        "POST",
        "/api/v1/calls",
        "agent.wang",
        json={"ani": customer.mobile, "channel": "voice", "attestation": "A"},
    )
    assert opened.status_code == 201, opened.text
    assert opened.json()["customer_id"] == customer.customer_id, opened.text
    session_id = opened.json()["id"]
    wrong = "0000" if customer.id_number[-4:] != "0000" else "1111"
    statuses = [
        api(
            running_suite,
            "POST",
            f"/api/v1/calls/{session_id}/knowledge-answers",
            "agent.wang",
            json={"question_id": "id_last4", "answer": wrong},
        ).status_code
        for _ in range(4)
    ]
    assert statuses[-1] == 409, statuses  # locked after the failures
    assert_one_recorded_alert(running_suite, customer, "verification_lockout")


def test_a_voiceprint_watchlist_hit_alerts_the_customer_once(running_suite: RunningSuite) -> None:
    gateway = Gateway(running_suite)
    customer = LIFE[47]  # not the web desk's voice customer (LIFE[41])
    call_id = gateway.open_call(customer)
    gateway.reach_l2(call_id, customer)
    gateway.consent(
        "/api/v1/consent/records",
        call_id,
        customer,
        notice_key="biometric-voiceprint",
        notice_version=1,
    )
    enrolled = gateway.enroll(call_id, speak(VOICE_A, SENTENCES[0]), speak(VOICE_A, SENTENCES[1]))
    assert enrolled.status_code == 201, enrolled.text
    added = gateway(
        "POST",
        "/api/v1/voiceprint-watchlist",
        "secadmin.wu",
        data={"label": "CASE-E2E-OUTREACH"},
        files=[
            ("utterances", (f"{i}.wav", speak(VOICE_C, SENTENCES[i + 3]), "audio/wav"))
            for i in range(2)
        ],
    )
    assert added.status_code == 201, added.text
    hit = gateway.verify(call_id, speak(VOICE_C, SENTENCES[5]))
    assert hit.status_code == 200 and hit.json()["watchlist_hit"] is True, hit.text
    assert_one_recorded_alert(running_suite, customer, "voiceprint_watchlist")


# ------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("path", "subject", "body", "needle"),
    [
        (
            "/api/v1/outreach/templates",
            "secadmin.wu",
            {"purpose": "security_education", "channel": "sms", "body": "{x}", "variables": ["x"]},
            "unknown template variables",
        ),
        (
            "/api/v1/outreach/templates",
            "secadmin.wu",
            {"purpose": "fraud_alert", "channel": "sms", "body": "请拨打15234719120"},
            "unmasked",
        ),
        (
            "/api/v1/outreach/campaigns",
            STEWARD,
            {
                "name": "x",
                "subsidiary": SUBSIDIARY,
                "segment": "no_such",
                "template_id": "tpl-edu-sms-zh",
            },
            "no segment",
        ),
        (
            "/api/v1/outreach/campaigns",
            STEWARD,
            {
                "name": "x",
                "subsidiary": SUBSIDIARY,
                "segment": "gold",
                "template_id": "tpl-edu-sms-zh",
                "scheduled_at": "2021-06-01T08:00:00Z",
            },
            "in the past",
        ),
    ],
)
def test_bad_input_is_refused_with_a_clear_problem(
    running_suite: RunningSuite, path: str, subject: str, body: dict[str, Any], needle: str
) -> None:
    response = api(running_suite, "POST", path, subject, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert needle in response.json()["detail"] and "15234719120" not in response.text


def test_only_campaign_staff_run_campaigns(running_suite: RunningSuite) -> None:
    body = {
        "name": "x",
        "subsidiary": SUBSIDIARY,
        "segment": "gold",
        "template_id": "tpl-edu-sms-zh",
    }
    assert (
        api(
            running_suite, "POST", "/api/v1/outreach/campaigns", "agent.wang", json=body
        ).status_code
        == 403
    )
