"""Outreach in-process: templates and campaigns refused with clear problems, reach, opt-out,
quiet hours, the frequency cap, fraud alerts (one per signal) and the desk's reminder.

Real app, real policy, real SQLite, the real dev sink adapters; a movable clock and
`dispatch_due` called directly (the background dispatcher is off here).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from anxin_profile.clock import Clock
from anxin_profile.contacts.models import ContactPoint
from anxin_profile.customers.models import Customer, Preference
from anxin_profile.outreach.dispatch import dispatch_due
from anxin_profile.outreach.quiet_hours import QuietHours
from anxin_shared.messaging import read_sink
from services.profile.tests.profile_testkit import (
    as_service,
    as_user,
    audit_events,
    in_call,
    leaked,
    profile_app,
)

SUBSIDIARY = "life"


def _quiet_window(clock: Clock, start_in: timedelta, length: timedelta) -> str:
    start = clock.now() + start_in
    return f"{start:%H:%M}-{start + length:%H:%M}"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TestClient]:
    clock = Clock()
    # Quiet hours (UTC) start 6 h from now and last 2 h; the test moves the clock into them.
    window = _quiet_window(clock, timedelta(hours=6), timedelta(hours=2))
    with profile_app(
        tmp_path,
        clock=clock,
        outreach_dispatch_interval_seconds=0,
        outreach_timezone="UTC",
        outreach_quiet_hours=window,
        outreach_frequency_cap=2,
        outreach_frequency_window_hours=24,
    ) as client:
        yield client


@pytest.fixture(scope="module")
def shared_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app for the tests that only read or are refused (no deliveries)."""
    with profile_app(
        tmp_path_factory.mktemp("profile-outreach"), outreach_dispatch_interval_seconds=0
    ) as client:
        yield client


def secadmin(client: TestClient) -> dict[str, str]:
    return as_user(client, subject="secadmin.wu", subsidiary="group")


def steward(client: TestClient) -> dict[str, str]:
    return as_user(client, subject="steward.gu", subsidiary="group")


def dispatch(client: TestClient) -> int:
    runtime: Any = client.runtime  # type: ignore[attr-defined]
    with runtime.database.session() as session:
        return dispatch_due(session, client.clock.now(), runtime.settings)  # type: ignore[attr-defined]


def until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    """Wait for the outbox relay (a background task) to have delivered."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the relay did not deliver in time"
        time.sleep(0.1)


def opted_in_members(client: TestClient, segment: str) -> set[str]:
    """The segment's customers with `marketing_opt_in` (read from the stored preferences)."""
    engine = client.runtime.database.engine  # type: ignore[attr-defined]
    with Session(engine) as session:
        rows = session.exec(
            select(Customer, Preference).where(
                Customer.customer_id == Preference.customer_id,
                Customer.subsidiary == SUBSIDIARY,
                Customer.record_status == "active",
            )
        ).all()
        return {
            customer.customer_id
            for customer, preference in rows
            if segment in json.loads(preference.tags)
            and json.loads(preference.contact_preferences).get("marketing_opt_in") is True
        }


def campaign(client: TestClient, segment: str, **extra: Any) -> dict[str, Any]:
    body = {
        "name": "防骗提示",
        "subsidiary": SUBSIDIARY,
        "segment": segment,
        "template_id": "tpl-edu-sms-zh",
        **extra,
    }
    response = client.post("/api/v1/outreach/campaigns", json=body, headers=steward(client))
    assert response.status_code == 201, response.text
    return dict(response.json())


def messages(client: TestClient, campaign_id: str) -> dict[str, dict[str, Any]]:
    response = client.get(
        f"/api/v1/outreach/messages?campaign_id={campaign_id}", headers=steward(client)
    )
    assert response.status_code == 200, response.text
    return {m["customer_id"]: m for m in response.json()["items"]}


def sms_sink(client: TestClient) -> list[dict[str, str]]:
    return read_sink(client.runtime.settings.outreach_sms_sink_path)  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"body": "您好{shoe_size}", "variables": ["shoe_size"]}, "unknown template variables"),
        ({"body": "您好{customer_name}", "variables": []}, "does not declare"),
        ({"body": "请回拨13812345678核实", "variables": []}, "unmasked"),
        ({"body": "卡号 6222 0212 3456 7890 已冻结", "variables": []}, "unmasked"),
    ],
)
def test_a_bad_template_is_refused_with_a_clear_problem(
    shared_api: TestClient, body: dict[str, Any], needle: str
) -> None:
    payload = {"purpose": "security_education", "channel": "sms", **body}
    response = shared_api.post(
        "/api/v1/outreach/templates", json=payload, headers=secadmin(shared_api)
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"].endswith("validation-failed") and needle in problem["detail"]
    assert leaked(response.text) == [] and "13812345678" not in response.text


def test_a_good_template_is_stored_with_its_variables(shared_api: TestClient) -> None:
    payload = {
        "purpose": "security_education",
        "channel": "app_push",
        "title": "安全课堂",
        "body": "{customer_name}您好，请勿向任何人透露验证码。客服{hotline}",
        "variables": ["customer_name", "hotline"],
    }
    created = shared_api.post(
        "/api/v1/outreach/templates", json=payload, headers=secadmin(shared_api)
    )
    assert created.status_code == 201, created.text
    listed = shared_api.get("/api/v1/outreach/templates", headers=steward(shared_api)).json()[
        "items"
    ]
    assert created.json()["template_id"] in {t["template_id"] for t in listed}
    # A steward runs campaigns but does not write templates.
    denied = shared_api.post(
        "/api/v1/outreach/templates", json=payload, headers=steward(shared_api)
    )
    assert denied.status_code == 403


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"segment": "no_such_segment"}, "no segment"),
        ({"scheduled_at": "2020-01-01T00:00:00Z"}, "in the past"),
        ({"scheduled_at": "9999-12-31T23:00:00Z"}, "a year ahead"),
        ({"template_id": "tpl-missing"}, "no such template"),
        ({"template_id": "tpl-alert-sms-zh"}, "fraud signals only"),
    ],
)
def test_a_bad_campaign_is_refused_with_a_clear_problem(
    shared_api: TestClient, extra: dict[str, Any], needle: str
) -> None:
    body = {
        "name": "x",
        "subsidiary": SUBSIDIARY,
        "segment": "gold",
        "template_id": "tpl-edu-sms-zh",
        **extra,
    }
    response = shared_api.post("/api/v1/outreach/campaigns", json=body, headers=steward(shared_api))
    assert response.status_code == 422, response.text
    assert needle in response.json()["detail"]


# ---------------------------------------------------------------------------- campaigns


def test_a_campaign_reaches_exactly_the_opted_in_customers_of_the_segment(
    api: TestClient,
) -> None:
    expected = opted_in_members(api, "gold")
    assert expected, "the demo data has opted-in gold customers"
    created = campaign(api, "gold")
    by_customer = messages(api, created["campaign_id"])
    queued = {c for c, m in by_customer.items() if m["status"] == "queued"}
    assert queued == expected
    assert {m["reason"] for c, m in by_customer.items() if c not in expected} == {"not_opted_in"}
    assert dispatch(api) == len(expected)
    until(lambda: len(sms_sink(api)) == len(expected))
    sent = {c for c, m in messages(api, created["campaign_id"]).items() if m["status"] == "sent"}
    assert sent == expected
    sink = sms_sink(api)
    assert {line["reference"] for line in sink} == {by_customer[c]["message_id"] for c in expected}
    assert all("**" in line["to_masked"] and "【安信人寿】" in line["text"] for line in sink)
    assert leaked(json.dumps(sink, ensure_ascii=False)) == []
    counts = api.get(
        f"/api/v1/outreach/campaigns/{created['campaign_id']}", headers=steward(api)
    ).json()["counts"]
    assert counts["sent"] == len(expected) and counts["targeted"] == len(by_customer)
    # One audit event per message, its content as template id and variables, no numbers.
    events = [e for e in audit_events(api) if e["resource"] == "outreach.message"]
    assert len(events) == len(by_customer)
    sent_events = [e for e in events if e["allowed"]]
    assert {e["customer_ref"] for e in sent_events} == expected
    assert {e["message_id"] for e in events} == {m["message_id"] for m in by_customer.values()}
    for e in sent_events:
        message = by_customer[e["customer_ref"]]
        assert e["kind"] == "outreach.message" and e["reasons"] == []
        assert (e["message_template"], e["message_channel"]) == ("tpl-edu-sms-zh", "sms")
        assert e["message_purpose"] == "security_education"
        assert e["message_variables"] == message["variables"] and "*" in str(message["variables"])
        assert e["campaign_id"] == created["campaign_id"] and e["delivery_status"] == "queued"
        # Unset outreach fields are left out of the event (its hash is unchanged by them).
        assert "fraud_signal_id" not in e and "delivery_reason" not in e
    held = [e for e in events if not e["allowed"]]
    assert {e["customer_ref"] for e in held} == set(by_customer) - expected
    assert {(e["delivery_status"], e["delivery_reason"]) for e in held} == {
        ("suppressed", "not_opted_in")
    }
    assert leaked(json.dumps(events, ensure_ascii=False)) == []


def test_an_opt_out_during_a_campaign_stops_further_messages(api: TestClient) -> None:
    created = campaign(api, "gold", scheduled_at=(api.clock.now() + timedelta(hours=1)).isoformat())  # type: ignore[attr-defined]
    by_customer = messages(api, created["campaign_id"])
    queued = sorted(c for c, m in by_customer.items() if m["status"] == "queued")
    quitter, others = queued[0], set(queued[1:])
    assert dispatch(api) == 0  # not due yet
    response = api.put(
        f"/api/v1/outreach/customers/{quitter}/opt-outs/security_education",
        headers=steward(api),
    )
    assert response.status_code == 200, response.text
    listed = api.get(f"/api/v1/outreach/customers/{quitter}/opt-outs", headers=steward(api))
    assert [o["purpose"] for o in listed.json()["items"]] == ["security_education"]
    api.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    assert dispatch(api) == len(others)
    until(lambda: len(sms_sink(api)) == len(others))
    after = messages(api, created["campaign_id"])
    assert after[quitter]["status"] == "suppressed" and after[quitter]["reason"] == "opted_out"
    assert {c for c, m in after.items() if m["status"] == "sent"} == others
    # A fraud alert cannot be opted out of.
    refused = api.put(
        f"/api/v1/outreach/customers/{quitter}/opt-outs/fraud_alert", headers=steward(api)
    )
    assert refused.status_code == 422


def test_quiet_hours_hold_messages_until_they_end(api: TestClient) -> None:
    settings = api.runtime.settings  # type: ignore[attr-defined]
    quiet = QuietHours.parse(settings.outreach_quiet_hours, settings.outreach_timezone)
    inside = api.clock.now() + timedelta(hours=6, minutes=30)  # type: ignore[attr-defined]
    created = campaign(api, "gold", scheduled_at=inside.isoformat())
    queued = [m for m in messages(api, created["campaign_id"]).values() if m["status"] == "queued"]
    window_end = quiet.release(inside)
    assert window_end > inside
    assert {datetime.fromisoformat(m["due_at"]) for m in queued} == {window_end}
    api.clock.advance(timedelta(hours=6, minutes=45))  # type: ignore[attr-defined]
    assert quiet.contains(api.clock.now())  # type: ignore[attr-defined]
    assert dispatch(api) == 0 and sms_sink(api) == []
    api.clock.advance(window_end - api.clock.now() + timedelta(minutes=1))  # type: ignore[attr-defined]
    assert dispatch(api) == len(queued)
    until(lambda: len(sms_sink(api)) == len(queued))


def test_the_frequency_cap_suppresses_the_message_over_it(api: TestClient) -> None:
    expected = opted_in_members(api, "platinum")
    for _ in range(2):
        campaign(api, "platinum")
        assert dispatch(api) == len(expected)
    third = campaign(api, "platinum")
    assert dispatch(api) == 0
    reasons = {m["reason"] for m in messages(api, third["campaign_id"]).values()}
    assert "frequency_cap" in reasons and "opted_out" not in reasons
    # After the window the cap is lifted again.
    api.clock.advance(timedelta(hours=25))  # type: ignore[attr-defined]
    fourth = campaign(api, "platinum")
    assert dispatch(api) == len(expected)
    reasons = {m["reason"] for m in messages(api, fourth["campaign_id"]).values()}
    assert "frequency_cap" not in reasons


def test_a_message_failed_for_an_unmasked_number_is_audited_with_it_masked(
    tmp_path: Path,
) -> None:
    misconfigured = "15234719120"  # a mobile where the official hotline belongs
    clock = Clock()
    with profile_app(
        tmp_path,
        clock=clock,
        outreach_dispatch_interval_seconds=0,
        outreach_timezone="UTC",
        outreach_quiet_hours=_quiet_window(clock, timedelta(hours=6), timedelta(hours=2)),
        outreach_hotline=misconfigured,
    ) as api:
        expected = opted_in_members(api, "gold")
        created = campaign(api, "gold")
        assert dispatch(api) == 0 and sms_sink(api) == []
        after = messages(api, created["campaign_id"])
        assert {(after[c]["status"], after[c]["reason"]) for c in expected} == {
            ("failed", "unmasked_number")
        }
        failed = [
            e
            for e in audit_events(api)
            if e["resource"] == "outreach.message" and e.get("delivery_status") == "failed"
        ]
        assert {e["customer_ref"] for e in failed} == expected
        assert all(e["delivery_reason"] == "unmasked_number" for e in failed)
        assert all("*" in e["message_variables"]["hotline"] for e in failed)
        assert misconfigured not in json.dumps(failed)


# ---------------------------------------------------------------------------- fraud alerts


def test_one_fraud_alert_per_signal_even_when_delivered_twice(api: TestClient) -> None:
    event = {
        "event_id": "evt-fraud-0001",
        "customer_id": "C000002",
        "signal": "voiceprint_watchlist",
        "call_session": "cs-0001",
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    # Opted out and inside quiet hours would stop a campaign, not a security notice.
    api.put("/api/v1/outreach/customers/C000002/opt-outs/security_education", headers=steward(api))
    api.clock.advance(timedelta(hours=6, minutes=30))  # type: ignore[attr-defined]
    settings = api.runtime.settings  # type: ignore[attr-defined]
    quiet = QuietHours.parse(settings.outreach_quiet_hours, settings.outreach_timezone)
    assert quiet.contains(api.clock.now())  # type: ignore[attr-defined]
    for expected in ({"accepted": 1, "duplicates": 0}, {"accepted": 0, "duplicates": 1}):
        response = api.post(
            "/internal/v1/fraud-signals", json={"events": [event]}, headers=as_service(api)
        )
        assert response.status_code == 200, response.text
        assert response.json() == expected
    assert dispatch(api) == 1
    listed = api.get("/api/v1/outreach/messages?customer_id=C000002", headers=steward(api))
    [alert] = listed.json()["items"]
    assert alert["purpose"] == "fraud_alert" and "*" in alert["variables"]["customer_name"]
    assert set(alert["variables"]) >= {"event_time", "event_kind", "hotline"}
    engine = api.runtime.database.engine  # type: ignore[attr-defined]
    with Session(engine) as session:
        app_account = session.exec(
            select(ContactPoint).where(
                ContactPoint.customer_id == "C000002", ContactPoint.channel == "app_account"
            )
        ).first()
    sink_path = (
        api.runtime.settings.outreach_push_sink_path  # type: ignore[attr-defined]
        if alert["channel"] == "app_push"
        else api.runtime.settings.outreach_sms_sink_path  # type: ignore[attr-defined]
    )
    assert alert["channel"] == "sms" or app_account is not None
    until(lambda: len(read_sink(sink_path)) == 1)
    [line] = read_sink(sink_path)
    assert line["reference"] == alert["message_id"] and "我们已拒绝" in line["text"]
    assert "15234719120" not in json.dumps(line, ensure_ascii=False)
    audited = [
        e
        for e in audit_events(api)
        if e["resource"] == "outreach.message" and e["customer_ref"] == "C000002"
    ]
    assert len(audited) == 1 and audited[0]["fraud_signal_id"] == "evt-fraud-0001"
    assert "campaign_id" not in audited[0] and audited[0]["message_id"] == alert["message_id"]
    assert audited[0]["message_template"] == alert["template_id"]
    assert audited[0]["message_variables"] == alert["variables"]
    assert (audited[0]["message_purpose"], audited[0]["delivery_status"]) == (
        "fraud_alert",
        "queued",
    )
    # Only identity reports fraud signals.
    other = {**event, "event_id": "evt-fraud-0002"}
    refused = api.post(
        "/internal/v1/fraud-signals", json={"events": [other]}, headers=as_service(api, "consent")
    )
    assert refused.status_code == 403


# ---------------------------------------------------------------------------- reminder


def test_the_security_reminder_is_picked_by_segment(api: TestClient) -> None:
    engine = api.runtime.database.engine  # type: ignore[attr-defined]
    with Session(engine) as session:
        platinum = session.exec(
            select(Customer).where(
                Customer.subsidiary == SUBSIDIARY, Customer.value_tier == "platinum"
            )
        ).first()
        plain = session.exec(
            select(Customer).where(
                Customer.subsidiary == SUBSIDIARY,
                Customer.value_tier == "standard",
                Customer.lifecycle_stage == "active",
            )
        ).first()
    assert platinum is not None and plain is not None
    path = "/api/v1/customers/{}/security-reminder"
    vip = api.get(
        path.format(platinum.customer_id),
        headers=in_call(api, "agent.li", SUBSIDIARY, platinum.customer_id, "L2"),
    )
    assert vip.status_code == 200, vip.text
    body = vip.json()
    assert set(body) == {"customer_id", "segment", "template_id", "language", "text"}
    assert (body["segment"], body["template_id"]) == ("platinum", "tpl-script-platinum-zh")
    general = api.get(
        path.format(plain.customer_id),
        headers=in_call(api, "agent.li", SUBSIDIARY, plain.customer_id, "L2"),
    ).json()
    assert general["template_id"] == "tpl-script-all-zh" and "95500" in general["text"]
    assert "{" not in general["text"]
    none = api.get(
        path.format(plain.customer_id) + "?language=en",
        headers=in_call(api, "agent.li", SUBSIDIARY, plain.customer_id, "L2"),
    )
    assert none.status_code == 404 and none.json()["type"].endswith("not-found")
    too_low = api.get(
        path.format(plain.customer_id),
        headers=in_call(api, "agent.li", SUBSIDIARY, plain.customer_id, "L1"),
    )
    assert too_low.status_code == 403
    other = api.get(
        path.format(platinum.customer_id),
        headers=in_call(api, "agent.li", SUBSIDIARY, plain.customer_id, "L2"),
    )
    assert other.status_code == 403


def test_quiet_hours_may_cross_midnight_in_the_local_timezone() -> None:
    quiet = QuietHours.parse("21:00-08:00", "Asia/Shanghai")
    late = datetime(2026, 11, 26, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai
    assert quiet.contains(late)
    assert quiet.release(late) == datetime(2026, 11, 27, 0, 0, tzinfo=UTC)  # 08:00 next day
    early = datetime(2026, 11, 26, 23, 0, tzinfo=UTC)  # 07:00 in Shanghai
    assert quiet.release(early) == datetime(2026, 11, 27, 0, 0, tzinfo=UTC)
    noon = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)
    assert not quiet.contains(noon) and quiet.release(noon) == noon
    assert not QuietHours.parse("00:00-00:00", "UTC").contains(late)


def test_an_opt_out_can_be_withdrawn(shared_api: TestClient) -> None:
    path = "/api/v1/outreach/customers/C000005/opt-outs/security_education"
    assert shared_api.put(path, headers=steward(shared_api)).status_code == 200
    assert shared_api.delete(path, headers=steward(shared_api)).status_code == 204
    assert shared_api.delete(path, headers=steward(shared_api)).status_code == 404
    listed = shared_api.get(
        "/api/v1/outreach/customers/C000005/opt-outs", headers=steward(shared_api)
    )
    assert listed.status_code == 200 and listed.json()["items"] == []
    # An agent records an opt-out only for the caller verified in the call (L1).
    agent = in_call(shared_api, "agent.li", "life", "C000002", "L1")
    assert shared_api.put(path.replace("C000005", "C000002"), headers=agent).status_code == 200
    assert shared_api.put(path, headers=agent).status_code == 403


def test_without_a_gateway_a_message_is_failed_and_left_to_retry(tmp_path: Path) -> None:
    with profile_app(
        tmp_path,
        outreach_dispatch_interval_seconds=0,
        outreach_gateway="none",
        outreach_quiet_hours="00:00-00:00",
    ) as client:
        created = campaign(client, "platinum")
        assert dispatch(client) > 0

        def failed() -> bool:
            found = messages(client, created["campaign_id"]).values()
            return any(m["status"] == "failed" for m in found)

        until(failed)
        statuses = {
            (m["status"], m["reason"]) for m in messages(client, created["campaign_id"]).values()
        }
        assert ("failed", "gateway_error") in statuses and ("sent", None) not in statuses
        assert sms_sink(client) == []
