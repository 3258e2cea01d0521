"""Portrait, household, unmask and the only-the-customer-in-the-call rule, in process."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from services.profile.tests.profile_testkit import (
    DEMO,
    as_user,
    audit_events,
    demo,
    in_call,
    leaked,
    profile_app,
)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory):
    with profile_app(tmp_path_factory.mktemp("profile-portrait")) as client:
        yield client


def test_l2_agent_sees_masked_numbers_in_the_portrait(api: TestClient) -> None:
    customer = demo(lambda c: c.subsidiary == "life" and c.bank_account and c.policy_number)
    headers = in_call(api, "agent.li", "life", customer.customer_id, "L2")
    response = api.get(f"/api/v1/customers/{customer.customer_id}/portrait", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    mobile = body["contact_points"]["mobile"][0]
    assert mobile["value"] == f"{customer.mobile[:3]}****{customer.mobile[-4:]}"
    assert mobile["registered"] and mobile["source_channel"] == "registration"
    assert body["identity"]["id_number"] == (
        customer.id_number[:3] + "*" * 11 + customer.id_number[-4:]
    )
    assert body["identity"]["name"] == customer.name  # plain at L1+
    assert body["bank_accounts"][0]["number"].endswith(customer.bank_account[-4:])
    assert body["insurance_policies"][0]["number"] == customer.policy_number  # plain at L2
    assert body["assurance_level"] == "L2"
    assert body["contact_preferences"]["quiet_hours"] == "21:00-09:00"
    assert leaked(response.text.replace(customer.policy_number, "")) == []
    # The household view is part of the portrait at L2.
    assert (
        body["household"] is not None and body["household"]["customer_id"] == customer.customer_id
    )


def test_notes_have_numbers_masked(api: TestClient) -> None:
    noted = demo(lambda c: c.subsidiary == "life" and c.mobile in c.notes)
    headers = in_call(api, "agent.li", "life", noted.customer_id, "L3")
    body = api.get(f"/api/v1/customers/{noted.customer_id}/portrait", headers=headers).json()
    text = body["notes"][0]["text"]
    assert noted.mobile not in text and f"{noted.mobile[:3]}****{noted.mobile[-4:]}" in text
    created = api.post(
        f"/api/v1/customers/{noted.customer_id}/notes",
        json={"text": f"客户新卡号 6222 0200 0000 0001 234，身份证 {noted.id_number}"},
        headers=headers,
    )
    assert created.status_code == 201
    assert noted.id_number not in created.text and "6222020000000001234" not in created.text


def test_an_agent_reads_only_the_customer_in_its_call(api: TestClient) -> None:
    life = [c for c in DEMO if c.subsidiary == "life"]
    bank = demo(lambda c: c.subsidiary == "bank")
    headers = in_call(api, "agent.li", "life", life[0].customer_id, "L2")
    other = api.get(f"/api/v1/customers/{life[1].customer_id}/portrait", headers=headers)
    foreign = api.get(f"/api/v1/customers/{bank.customer_id}/portrait", headers=headers)
    missing = api.get("/api/v1/customers/C999999/portrait", headers=headers)
    assert other.status_code == foreign.status_code == missing.status_code == 403
    assert other.json()["detail"] == foreign.json()["detail"] == missing.json()["detail"]
    assert set(foreign.json()) == set(missing.json())
    events = {e["decision_id"]: e for e in audit_events(api)}
    assert events[other.json()["decision_id"]]["failed_fact"] == ("verified_in_call_session")
    # The basic record of another customer is a directory lookup: allowed, stated reason audited.
    lookup = api.get(f"/api/v1/customers/{life[1].customer_id}", headers=headers)
    assert lookup.status_code == 200 and lookup.json()["mobile"] is None
    reasons = (
        events.get(lookup.json()["decision_id"])
        or {e["decision_id"]: e for e in audit_events(api)}[lookup.json()["decision_id"]]
    )
    assert any(r.startswith("wider access: agent:") for r in reasons["reasons"])


def test_a_contractor_may_not_browse_customers(api: TestClient) -> None:
    pc = [c for c in DEMO if c.subsidiary == "pc"]
    contractor = as_user(api, subject="contractor.sun", subsidiary="pc")
    assert api.get("/api/v1/customers?limit=5", headers=contractor).status_code == 403
    assert api.get(f"/api/v1/customers/{pc[0].customer_id}", headers=contractor).status_code == 403
    verified = in_call(api, "contractor.sun", "pc", pc[0].customer_id, "L3")
    texts = [
        api.get(f"/api/v1/customers/{pc[0].customer_id}", headers=verified).text,
        api.get(f"/api/v1/customers/{pc[0].customer_id}/portrait", headers=verified).text,
    ]
    assert all('"customer_id"' in text for text in texts)
    assert [leaked(text) for text in texts] == [[], []]
    assert not re.search(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])", "".join(texts))


def test_supervisor_unmask_with_reason_is_plain_and_audited(api: TestClient) -> None:
    customer = demo(lambda c: c.subsidiary == "life" and c.household_role == "head")
    path = f"/api/v1/customers/{customer.customer_id}/unmask"
    supervisor = in_call(api, "supervisor.liu", "life", customer.customer_id, "L2")
    reason = f"客户投诉核实，来电号码 {customer.mobile} 与登记不符"
    response = api.post(
        path, json={"fields": ["mobile", "id_number"], "reason": reason}, headers=supervisor
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["values"] == {"mobile": customer.mobile, "id_number": customer.id_number}
    assert response.headers["cache-control"] == "no-store"
    event = next(e for e in audit_events(api) if e["decision_id"] == body["decision_id"])
    assert event["action"] == "unmask" and event["allowed"] is True
    assert event["unmask_reason"].startswith("客户投诉核实")
    assert customer.mobile not in json.dumps(event)  # the reason's number is masked
    # Without a reason, or as an agent, or below L2, or for a customer not in the call: refused.
    assert api.post(path, json={"fields": ["mobile"]}, headers=supervisor).status_code == 422
    agent = in_call(api, "agent.li", "life", customer.customer_id, "L3")
    denied = api.post(
        path, json={"fields": ["mobile"], "reason": "想看一下这位客户的完整号码"}, headers=agent
    )
    assert denied.status_code == 403
    low = in_call(api, "supervisor.liu", "life", customer.customer_id, "L1")
    assert (
        api.post(
            path, json={"fields": ["mobile"], "reason": "核实来电号码是否一致"}, headers=low
        ).status_code
        == 403
    )
    denied_event = next(
        e for e in audit_events(api) if e["decision_id"] == denied.json()["decision_id"]
    )
    assert (
        denied_event["unmask_reason"] == "想看一下这位客户的完整号码"
        and denied_event["allowed"] is False
    )


def test_household_view_needs_l2_and_withholds_other_subsidiaries(api: TestClient) -> None:
    households: dict[str, list] = {}
    for c in DEMO:
        households.setdefault(c.household_id, []).append(c)
    family = next(
        members
        for members in households.values()
        if len(members) >= 3
        and members[0].subsidiary == "life"
        and any(m.subsidiary != "life" for m in members)
    )
    head = family[0]
    path = f"/api/v1/customers/{head.customer_id}/household"
    assert (
        api.get(path, headers=in_call(api, "agent.li", "life", head.customer_id, "L1")).status_code
        == 403
    )
    response = api.get(path, headers=in_call(api, "agent.li", "life", head.customer_id, "L2"))
    assert response.status_code == 200
    members = response.json()["members"]
    assert len(members) == len(family) - 1
    for member, person in zip(members, family[1:], strict=True):
        assert member["withheld"] is (person.subsidiary != "life")
        if not member["withheld"]:
            assert member["name"] and member["name"] != person.name
    assert {m["relation"] for m in members} <= {"spouse", "child", "parent"}
