"""The internal API identity and consent use: matching, knowledge questions, existence, events."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from anxin_profile.demo_data import demo_app_account, demo_device_id, generate_customers
from anxin_profile.main import create_app
from anxin_profile.settings import ProfileSettings
from anxin_profile.sharing.models import ConsentWithdrawal
from services.profile.tests.profile_testkit import as_service

POLICIES = Path(__file__).resolve().parents[3] / "policies"
DEMO = generate_customers()


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("profile-internal")
    settings = ProfileSettings(env="dev", var_dir=tmp, policies_dir=POLICIES)
    app = create_app(settings)
    with TestClient(app) as client:
        client.keys = tmp / "keys"  # type: ignore[attr-defined]
        client.runtime = app.state.runtime  # type: ignore[attr-defined]
        yield client


def test_registered_number_matches_in_any_notation(api: TestClient) -> None:
    customer = DEMO[5]
    identity = as_service(api, "identity")
    fullwidth = customer.mobile.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    for number in (
        customer.mobile,
        f"+86{customer.mobile}",
        f"+86 {customer.mobile[:3]} {customer.mobile[3:7]} {customer.mobile[7:]}",
        fullwidth,
    ):
        response = api.post(
            "/internal/v1/contact-points:match", json={"number": number}, headers=identity
        )
        assert response.status_code == 200, response.text
        matches = response.json()["matches"]
        assert [m["customer_id"] for m in matches] == [customer.customer_id]
        assert matches[0]["subsidiary"] == customer.subsidiary
        assert matches[0]["channel"] == "mobile" and matches[0]["first_seen"]
    none = api.post(
        "/internal/v1/contact-points:match", json={"number": "+8613000000000"}, headers=identity
    )
    assert none.json() == {"matches": []}


def test_known_devices_and_app_accounts_match(api: TestClient) -> None:
    identity = as_service(api, "identity")
    with_device = next(c for c in DEMO if demo_device_id(c.customer_id))
    with_app = next(c for c in DEMO if demo_app_account(c.customer_id))
    device = demo_device_id(with_device.customer_id)
    account = demo_app_account(with_app.customer_id)
    assert device and account
    found = api.post(
        "/internal/v1/devices:match", json={"device_id": device.lower()}, headers=identity
    ).json()["matches"]
    assert [(m["customer_id"], m["channel"]) for m in found] == [
        (with_device.customer_id, "device")
    ]
    found = api.post(
        "/internal/v1/devices:match", json={"device_id": account}, headers=identity
    ).json()["matches"]
    assert [(m["customer_id"], m["channel"]) for m in found] == [
        (with_app.customer_id, "app_account")
    ]
    assert api.post(
        "/internal/v1/devices:match", json={"device_id": "DEV-unknown"}, headers=identity
    ).json() == {"matches": []}


def test_knowledge_questions_never_reveal_answers(api: TestClient) -> None:
    identity = as_service(api, "identity")
    insured = next(c for c in DEMO if c.policy_number and c.bank_account)
    response = api.get(
        f"/internal/v1/customers/{insured.customer_id}/knowledge-questions", headers=identity
    )
    assert response.status_code == 200
    ids = [q["question_id"] for q in response.json()["questions"]]
    assert ids == ["id_last4", "birth_date", "policy_number", "card_last4"]
    assert insured.id_number[-4:] not in response.text
    assert insured.birth_date.isoformat() not in response.text
    banked = next(c for c in DEMO if c.policy_number is None)
    ids = [
        q["question_id"]
        for q in api.get(
            f"/internal/v1/customers/{banked.customer_id}/knowledge-questions", headers=identity
        ).json()["questions"]
    ]
    assert "policy_number" not in ids


def test_knowledge_answers_are_normalised(api: TestClient) -> None:
    identity = as_service(api, "identity")
    customer = next(c for c in DEMO if c.policy_number and c.bank_account)
    path = f"/internal/v1/customers/{customer.customer_id}/knowledge:check"
    born = customer.birth_date
    fw = str.maketrans("0123456789X", "０１２３４５６７８９ｘ")
    right = {
        "id_last4": [customer.id_number[-4:], customer.id_number[-4:].lower().translate(fw)],
        "birth_date": [
            born.isoformat(),
            f"{born:%Y%m%d}",
            f"{born.year}/{born.month}/{born.day}",
            f"{born.year}年{born.month}月{born.day}日",
        ],
        "policy_number": [
            customer.policy_number.lower(),
            " ".join([customer.policy_number[:4], customer.policy_number[4:]]),
        ],
        "card_last4": [f" {customer.bank_account[-4:]} "],
    }
    for question, answers in right.items():
        for answer in answers:
            body = api.post(
                path, json={"question_id": question, "answer": answer}, headers=identity
            ).json()
            assert body == {"correct": True}, (question, answer)
    wrong = api.post(path, json={"question_id": "id_last4", "answer": "0000"}, headers=identity)
    assert wrong.json() == {"correct": False} or customer.id_number.endswith("0000")
    assert api.post(
        path, json={"question_id": "birth_date", "answer": "not a date"}, headers=identity
    ).json() == {"correct": False}
    assert (
        api.post(
            path, json={"question_id": "pet_name", "answer": "x"}, headers=identity
        ).status_code
        == 422
    )


def test_otp_destination_and_existence(api: TestClient) -> None:
    customer = DEMO[0]
    identity, consent = as_service(api, "identity"), as_service(api, "consent")
    otp = api.get(
        f"/internal/v1/customers/{customer.customer_id}/otp-destination", headers=identity
    )
    assert otp.json() == {"mobile": customer.mobile}
    # Consent may ask whether a customer exists, not for its mobile number.
    assert (
        api.get(
            f"/internal/v1/customers/{customer.customer_id}/otp-destination", headers=consent
        ).status_code
        == 403
    )
    assert api.get(
        f"/internal/v1/customers/{customer.customer_id}/exists", headers=consent
    ).json() == {"exists": True, "subsidiary": customer.subsidiary}
    assert api.get("/internal/v1/customers/C999999/exists", headers=consent).json() == {
        "exists": False,
        "subsidiary": None,
    }


def test_only_allowed_services_reach_the_internal_api(api: TestClient) -> None:
    audit = as_service(api, "audit")
    assert (
        api.post(
            "/internal/v1/contact-points:match", json={"number": DEMO[0].mobile}, headers=audit
        ).status_code
        == 403
    )
    assert (
        api.post("/internal/v1/contact-points:match", json={"number": DEMO[0].mobile}).status_code
        == 401
    )


def test_consent_withdrawals_are_stored_once(api: TestClient) -> None:
    consent = as_service(api, "consent")
    event = {
        "event_id": "evt-withdraw-0001",
        "customer_id": DEMO[1].customer_id,
        "purpose": "claims_service",
        "category": "pi.contact.phone",
        "recipient": "life",
        "consent_id": "consent-123",
        "withdrawn_at": "2026-11-26T10:00:00Z",
    }
    first = api.post(
        "/internal/v1/consent-events", json={"events": [event, event]}, headers=consent
    )
    assert first.json() == {"accepted": 1, "duplicates": 1}
    again = api.post("/internal/v1/consent-events", json={"events": [event]}, headers=consent)
    assert again.json() == {"accepted": 0, "duplicates": 1}
    with Session(api.runtime.database.engine) as session:  # type: ignore[attr-defined]
        rows = session.exec(select(ConsentWithdrawal)).all()
    assert [(r.event_id, r.consent_id) for r in rows] == [("evt-withdraw-0001", "consent-123")]
    assert (
        api.post(
            "/internal/v1/consent-events",
            json={"events": [event]},
            headers=as_service(api, "identity"),
        ).status_code
        == 403
    )
