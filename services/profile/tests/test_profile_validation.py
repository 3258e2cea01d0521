"""Data quality at the source: 422 lists every bad field, nothing is stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from anxin_profile.contacts.models import ContactPoint
from anxin_profile.customers.models import Customer
from anxin_profile.demo_data import gb11643_check_char, luhn_check_digit
from services.profile.tests.profile_testkit import as_user, in_call, profile_app

FIRST17 = "11010519850314003"  # Beijing Chaoyang, born 1985-03-14, male (3 is odd)
GOOD_ID = FIRST17 + gb11643_check_char(FIRST17)
BAD_ID = FIRST17 + ("1" if GOOD_ID[-1] != "1" else "2")
GOOD = {
    "name": "测试客户",
    "gender": "M",
    "birth_date": "1985-03-14",
    "id_number": GOOD_ID,
    "mobile": "13912345678",
    "email": "new.customer@example.com",
    "address": "北京市朝阳区建国路1号",
    "postcode": "100020",
    "policy_number": "LP20240000000001",
    "bank_account": "622202000000001" + luhn_check_digit("622202000000001"),
}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory):
    with profile_app(tmp_path_factory.mktemp("profile-validation")) as client:
        yield client


def counts(client: TestClient) -> tuple[int, int]:
    with Session(client.runtime.database.engine) as session:  # type: ignore[attr-defined]
        customers = session.exec(select(func.count()).select_from(Customer)).one()
        points = session.exec(select(func.count()).select_from(ContactPoint)).one()
    return int(customers), int(points)


def test_bad_id_checksum_is_422_naming_the_field_and_nothing_is_stored(api: TestClient) -> None:
    agent = as_user(api, subject="agent.li", subsidiary="life")
    before = counts(api)
    response = api.post("/api/v1/customers", json={**GOOD, "id_number": BAD_ID}, headers=agent)
    assert response.status_code == 422, response.text
    body = response.json()
    assert [e["field"] for e in body["errors"]] == ["id_number"]
    assert "check character" in body["errors"][0]["reason"]
    assert BAD_ID not in response.text
    assert counts(api) == before


def test_every_bad_field_is_listed_at_once(api: TestClient) -> None:
    agent = as_user(api, subject="agent.li", subsidiary="life")
    before = counts(api)
    bad = {
        **GOOD,
        "gender": "F",  # the ID says male
        "mobile": "12345",
        "bank_account": GOOD["bank_account"][:-1] + str((int(GOOD["bank_account"][-1]) + 1) % 10),
        "policy_number": "XX123",
        "postcode": "9999",
        "email": "not-an-email",
    }
    response = api.post("/api/v1/customers", json=bad, headers=agent)
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"id_number", "mobile", "bank_account", "policy_number", "postcode", "email"}
    assert counts(api) == before
    # An ID that disagrees with the birth date is refused too.
    response = api.post(
        "/api/v1/customers", json={**GOOD, "birth_date": "1985-03-15"}, headers=agent
    )
    assert [e["field"] for e in response.json()["errors"]] == ["id_number"]
    assert "birth_date" in response.json()["errors"][0]["reason"]


def test_valid_customer_is_stored_with_contact_points_and_matchable(api: TestClient) -> None:
    agent = as_user(api, subject="agent.li", subsidiary="life")
    before = counts(api)
    fullwidth = {**GOOD, "mobile": "＋８６ 139 1234 5678"}
    response = api.post("/api/v1/customers", json=fullwidth, headers=agent)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["subsidiary"] == "life" and GOOD_ID not in response.text
    assert counts(api)[0] == before[0] + 1 and counts(api)[1] == before[1] + 3
    with Session(api.runtime.database.engine) as session:  # type: ignore[attr-defined]
        stored = session.get(Customer, created["customer_id"])
        assert stored is not None and stored.mobile == "13912345678"
        assert stored.servicing_agent == "agent.li"
    # The same ID number again is a conflict, and still nothing is stored.
    again = api.post("/api/v1/customers", json=GOOD, headers=agent)
    assert again.status_code == 409
    # A verified update that breaks the ID/gender agreement is refused as a whole.
    l2 = in_call(api, "agent.li", "life", created["customer_id"], "L2")
    bad = api.patch(
        f"/api/v1/customers/{created['customer_id']}",
        json={"gender": "F", "address": "上海市徐汇区1号"},
        headers=l2,
    )
    assert bad.status_code == 422 and {e["field"] for e in bad.json()["errors"]} == {"id_number"}
    ok = api.patch(
        f"/api/v1/customers/{created['customer_id']}", json={"mobile": "13700001111"}, headers=l2
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["mobile"] == "137****1111"


def test_contractors_and_other_subsidiaries_cannot_create_or_update(
    api: TestClient, tmp_path: Path
) -> None:
    contractor = as_user(api, subject="contractor.sun", subsidiary="pc")
    assert api.post("/api/v1/customers", json=GOOD, headers=contractor).status_code == 403
    unverified = as_user(api, subject="agent.li", subsidiary="life")
    response = api.patch(
        "/api/v1/customers/C000002", json={"email": "x@example.com"}, headers=unverified
    )
    assert response.status_code == 403
