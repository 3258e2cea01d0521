"""Gated sharing (consent service doubled with MockTransport) and outbound dial references."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient

from anxin_profile.clock import Clock
from anxin_profile.sharing.schemas import ConsentWithdrawnEvent
from anxin_profile.sharing.service import record_withdrawals
from services.profile.tests.profile_testkit import (
    as_user,
    audit_events,
    demo,
    in_call,
    leaked,
    profile_app,
)

LIFE = demo(lambda c: c.subsidiary == "life" and c.policy_number)
# (customer, purpose, category, recipient) -> consent id
CONSENTS: dict[tuple[str, str, str, str], str] = {}
CHECKS: list[dict[str, str]] = []


def consent_double(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/internal/v1/consent:check-batch":
        checks = json.loads(request.content)["checks"]
        CHECKS.extend(checks)
        results = []
        for c in checks:
            key = (c["customer_id"], c["purpose"], c["category"], c["recipient"])
            consent_id = CONSENTS.get(key)
            results.append(
                {
                    "allowed": consent_id is not None,
                    "consent_id": consent_id,
                    "notice_key": "n" if consent_id else None,
                    "notice_version": 1 if consent_id else None,
                    "reason": "granted" if consent_id else "no consent",
                }
            )
        return httpx.Response(200, json={"results": results})
    return httpx.Response(200, json={})


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory):
    with profile_app(
        tmp_path_factory.mktemp("profile-sharing"), clock=Clock(), peer=consent_double
    ) as client:
        yield client


def grant(customer_id: str, purpose: str, recipient: str, *categories: str) -> None:
    for category in categories:
        CONSENTS[(customer_id, purpose, category, recipient)] = f"cons-{purpose}-{recipient}"


def test_consent_and_policy_give_exactly_the_allowed_fields(api: TestClient) -> None:
    client = as_user(api, subject="bank-crm-system", kind="client", subsidiary="bank")
    path = f"/api/v1/shared/customers/{LIFE.customer_id}?purpose=cross_sell"
    denied = api.get(path, headers=client)
    assert denied.status_code == 403  # no consent yet
    grant(
        LIFE.customer_id,
        "cross_sell",
        "bank",
        "pi.identity.name",
        "pi.contact.phone",
        "pi.contact.address",
        "pi.insurance.policy_number",
        "pi.profile.segment",
    )
    response = api.get(path, headers=client)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body["fields"]) == {
        "name",
        "mobile",
        "policy_number",
        "value_tier",
        "lifecycle_stage",
    }
    assert body["fields"]["mobile"]["value"] == f"{LIFE.mobile[:3]}****{LIFE.mobile[-4:]}"
    assert body["fields"]["value_tier"] == {
        "value": LIFE.value_tier,
        "view": "plain",
        "classification": "pi.profile.segment",
        "consent_id": "cons-cross_sell-bank",
    }
    assert leaked(response.text) == []
    # Consent was asked for the recipient's subsidiary and exactly the policy-allowed categories.
    asked = {c["category"] for c in CHECKS if c["purpose"] == "cross_sell"}
    assert "pi.contact.address" not in asked and "spi.identity.id_number" not in asked
    assert {c["recipient"] for c in CHECKS} == {"bank"}
    event = next(e for e in audit_events(api) if e["decision_id"] == body["decision_id"])
    assert event["consent_id"] == "cons-cross_sell-bank" and event["allowed"] is True


def test_partial_consent_discloses_only_consented_categories(api: TestClient) -> None:
    other = demo(lambda c: c.subsidiary == "life" and c.customer_id != LIFE.customer_id)
    grant(other.customer_id, "marketing", "life", "pi.profile.segment")
    client = as_user(api, subject="life-claims-system", kind="client", subsidiary="life")
    body = api.get(
        f"/api/v1/shared/customers/{other.customer_id}?purpose=marketing", headers=client
    ).json()
    assert set(body["fields"]) == {"value_tier", "lifecycle_stage"}
    assert set(body["withheld"]) == {"name", "mobile", "email"}


def test_regulatory_deny_wins_over_consent(api: TestClient) -> None:
    pc_customer = demo(lambda c: c.subsidiary == "pc")
    grant(
        pc_customer.customer_id,
        "marketing",
        "pc",
        "pi.identity.name",
        "pi.contact.phone",
        "pi.contact.email",
        "pi.profile.segment",
    )
    client = as_user(api, subject="pc-underwriting-system", kind="client", subsidiary="pc")
    before = len(CHECKS)
    response = api.get(
        f"/api/v1/shared/customers/{pc_customer.customer_id}?purpose=marketing", headers=client
    )
    assert response.status_code == 403
    assert len(CHECKS) == before  # nothing to ask consent for: policy bans it all
    event = next(e for e in audit_events(api) if e["decision_id"] == response.json()["decision_id"])
    assert event["failed_fact"] == "policy_allows_purpose"
    assert any("regulatory rule" in r and "deny" in r for r in event["reasons"])


def test_missing_and_unknown_look_the_same_and_withdrawal_stops_sharing(api: TestClient) -> None:
    client = as_user(api, subject="bank-crm-system", kind="client", subsidiary="bank")
    missing = api.get("/api/v1/shared/customers/C999999?purpose=cross_sell", headers=client)
    no_consent = api.get(
        f"/api/v1/shared/customers/{demo(lambda c: c.subsidiary == 'pc').customer_id}"
        "?purpose=cross_sell",
        headers=client,
    )
    assert missing.status_code == no_consent.status_code == 403
    assert missing.json()["detail"] == no_consent.json()["detail"]
    assert (
        api.get(
            f"/api/v1/shared/customers/{LIFE.customer_id}?purpose=unknown", headers=client
        ).status_code
        == 422
    )
    # The consent service reports a withdrawal (delivery itself: see the internal API tests);
    # that consent never counts again here, even if a stale check still says it holds.
    with api.runtime.database.session() as session:  # type: ignore[attr-defined]
        record_withdrawals(
            session,
            [
                ConsentWithdrawnEvent(
                    event_id="evt-w-1",
                    customer_id=LIFE.customer_id,
                    purpose="cross_sell",
                    category="pi.contact.phone",
                    recipient="bank",
                    consent_id="cons-cross_sell-bank",
                )
            ],
        )
    after = api.get(
        f"/api/v1/shared/customers/{LIFE.customer_id}?purpose=cross_sell", headers=client
    )
    assert after.status_code == 403


def test_call_lists_show_masked_numbers_and_dial_refs_resolve_once(api: TestClient) -> None:
    agent = as_user(api, subject="agent.li", subsidiary="life")
    created = api.post(
        "/api/v1/outbound/call-lists",
        json={"name": "续期提醒", "lifecycle_stage": "active", "limit": 5},
        headers=agent,
    )
    assert created.status_code == 201, created.text
    entries = created.json()["entries"]
    assert len(entries) == 5 and leaked(created.text) == []
    assert all("****" in e["mobile"] for e in entries)
    ref = entries[0]["dial_ref"]
    path = f"/api/v1/dial-references/{ref}/resolve"
    assert api.post(path, headers=agent).status_code == 403  # agents never resolve
    telephony = as_user(api, subject="telephony-platform", kind="client", subsidiary="group")
    resolved = api.post(path, headers=telephony)
    assert resolved.status_code == 200, resolved.text
    customer = demo(lambda c: c.customer_id == entries[0]["customer_id"])
    assert resolved.json()["number"] == f"+86{customer.mobile}"
    assert api.post(path, headers=telephony).status_code == 403  # single use
    events = [e for e in audit_events(api) if e["action"] == "resolve"]
    assert [e["allowed"] for e in events] == [False, True, False]
    assert all(customer.mobile not in json.dumps(e) for e in events)
    # Expired references are refused too.
    api.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    late = api.post(f"/api/v1/dial-references/{entries[1]['dial_ref']}/resolve", headers=telephony)
    assert late.status_code == 403


def test_contractor_call_list_is_masked_and_contractor_reads_nothing_plain(
    api: TestClient,
) -> None:
    contractor = as_user(api, subject="contractor.sun", subsidiary="pc")
    created = api.post("/api/v1/outbound/call-lists", json={"name": "车险续保"}, headers=contractor)
    assert created.status_code == 201 and leaked(created.text) == []
    pc = demo(lambda c: c.subsidiary == "pc")
    verified = in_call(api, "contractor.sun", "pc", pc.customer_id, "L3")
    assert (
        api.post(
            f"/api/v1/customers/{pc.customer_id}/unmask",
            json={"fields": ["mobile"], "reason": "客户要求核对号码是否正确"},
            headers=verified,
        ).status_code
        == 403
    )
