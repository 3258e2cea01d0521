"""PIPL rights: a copy of the data, the correction workflow, deletion honouring retention."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from anxin_profile.contacts.repository import for_customer
from anxin_profile.customers.models import Customer, Holding
from services.profile.tests.profile_testkit import as_user, demo, in_call, leaked, profile_app


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory):
    with profile_app(tmp_path_factory.mktemp("profile-rights")) as client:
        yield client


def test_export_needs_l3_and_discloses_as_policy_says(api: TestClient) -> None:
    customer = demo(lambda c: c.subsidiary == "life")
    path = f"/api/v1/customers/{customer.customer_id}/export"
    l2 = in_call(api, "agent.li", "life", customer.customer_id, "L2")
    assert api.get(path, headers=l2).status_code == 403
    l3 = in_call(api, "agent.li", "life", customer.customer_id, "L3")
    response = api.get(path, headers=l3)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["portrait"]["customer_id"] == customer.customer_id
    assert body["rights_requests"][-1]["kind"] == "export"
    assert customer.id_number not in response.text  # ID numbers stay masked for agents
    contractor = in_call(
        api, "contractor.sun", "pc", demo(lambda c: c.subsidiary == "pc").customer_id, "L3"
    )
    assert (
        api.get(
            f"/api/v1/customers/{demo(lambda c: c.subsidiary == 'pc').customer_id}/export",
            headers=contractor,
        ).status_code
        == 403
    )


def test_correction_request_is_validated_then_approved_by_the_back_office(
    api: TestClient,
) -> None:
    customer = demo(lambda c: c.subsidiary == "bank")
    l2 = in_call(api, "agent.wang", "bank", customer.customer_id, "L2")
    path = f"/api/v1/customers/{customer.customer_id}/corrections"
    bad = api.post(
        path, json={"field": "mobile", "new_value": "1234", "reason": "客户换号"}, headers=l2
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "mobile"
    filed = api.post(
        path, json={"field": "mobile", "new_value": "13811112222", "reason": "客户换号"}, headers=l2
    )
    assert filed.status_code == 201, filed.text
    request = filed.json()
    assert request["status"] == "pending" and request["proposed_value"] == "138****2222"
    decide = f"/api/v1/rights-requests/{request['request_id']}/decision"
    agent = as_user(api, subject="agent.wang", subsidiary="bank")
    assert (
        api.post(decide, json={"approve": True, "reason": "核实无误"}, headers=agent).status_code
        == 403
    )
    other_steward = as_user(api, subject="steward.feng", subsidiary="bank")
    done = api.post(decide, json={"approve": True, "reason": "核实无误"}, headers=other_steward)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed" and done.json()["decided_by"] == "steward.feng"
    with Session(api.runtime.database.engine) as session:  # type: ignore[attr-defined]
        stored = session.get(Customer, customer.customer_id)
        assert stored is not None and stored.mobile == "13811112222"
        registered = [
            p.value
            for p in for_customer(session, customer.customer_id)
            if p.channel == "mobile" and p.registered
        ]
        assert registered == ["13811112222"]
    assert (
        api.post(
            decide, json={"approve": False, "reason": "重复"}, headers=other_steward
        ).status_code
        == 409
    )


def test_deletion_keeps_what_the_law_requires_and_records_why(api: TestClient) -> None:
    insured = demo(lambda c: c.subsidiary == "life" and c.policy_number)
    l2 = in_call(api, "agent.li", "life", insured.customer_id, "L2")
    kept = api.post(
        f"/api/v1/customers/{insured.customer_id}/deletion",
        json={"reason": "客户要求删除个人信息"},
        headers=l2,
    )
    assert kept.status_code == 201, kept.text
    assert kept.json()["status"] == "retained"
    assert "legal retention" in kept.json()["outcome_reason"]
    with Session(api.runtime.database.engine) as session:  # type: ignore[attr-defined]
        stored = session.get(Customer, insured.customer_id)
        assert stored is not None and stored.record_status == "active" and stored.email is None
        assert [p.channel for p in for_customer(session, insured.customer_id)] == ["mobile"]
    # A customer without any open product is erased.
    with api.runtime.database.session() as session:  # type: ignore[attr-defined]
        prospect = session.get(Customer, "Q000004")
        assert prospect is not None
        for holding in session.exec(select(Holding).where(Holding.customer_id == "Q000004")):
            holding.status = "closed"
            session.add(holding)
    l2q = in_call(api, "agent.li", "life", "Q000004", "L2")
    erased = api.post(
        "/api/v1/customers/Q000004/deletion", json={"reason": "客户要求删除"}, headers=l2q
    )
    assert erased.json()["status"] == "completed"
    after = api.get("/api/v1/customers/Q000004", headers=l2q)
    assert after.status_code == 403  # an erased record is gone for every reader
    assert leaked(erased.text) == []
