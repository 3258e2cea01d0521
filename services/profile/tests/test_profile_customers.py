"""Customer reads through the profile service: object-level decisions, masking, audit, seed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from anxin_profile.customers.models import Customer
from anxin_profile.main import create_app
from anxin_profile.seed import seed_customers
from anxin_profile.settings import ProfileSettings
from anxin_shared.keys import load_key, private_key_path
from anxin_shared.outbox import OutboxEvent
from anxin_shared.principal import Principal
from anxin_shared.tokens import TokenSigner

POLICIES = Path(__file__).resolve().parents[3] / "policies"


@pytest.fixture
def client(tmp_path: Path):
    settings = ProfileSettings(env="dev", var_dir=tmp_path, policies_dir=POLICIES)
    app = create_app(settings)
    with TestClient(app) as test_client:
        test_client.app_state = app.state  # type: ignore[attr-defined]
        yield test_client


def internal(client: TestClient, tmp_path: Path, **principal: object) -> dict[str, str]:
    signer = TokenSigner(
        "anxin-gateway", load_key(private_key_path(tmp_path / "keys", "gateway")), "gateway"
    )
    who = Principal(**principal)  # type: ignore[arg-type]
    return {
        "authorization": "Bearer "
        + signer.mint(who.subject, "anxin-profile", 30, **who.internal_claims())
    }


def customers(client: TestClient) -> list[Customer]:
    runtime = client.app_state.runtime  # type: ignore[attr-defined]
    with Session(runtime.database.engine) as session:
        return list(session.exec(select(Customer)).all())


def test_seed_has_200_customers_and_runs_again_without_duplicates(client: TestClient) -> None:
    runtime = client.app_state.runtime  # type: ignore[attr-defined]
    assert len(customers(client)) >= 200
    with runtime.database.session() as session:
        assert seed_customers(session) == 0
        assert session.exec(select(func.count()).select_from(Customer)).one() >= 200
    assert {c.subsidiary for c in customers(client)} == {"life", "pc", "bank"}


def test_verified_caller_sees_masked_numbers_never_plain(
    client: TestClient, tmp_path: Path
) -> None:
    customer = next(c for c in customers(client) if c.subsidiary == "life")
    headers = internal(
        client,
        tmp_path,
        subject="agent.li",
        kind="user",
        subsidiary="life",
        assurance_level="L2",
        verified_customer=customer.customer_id,
    )
    body = client.get(f"/api/v1/customers/{customer.customer_id}", headers=headers).json()
    assert body["mobile"] and body["mobile"] != customer.mobile and "*" in body["mobile"]
    assert body["mobile"][:3] == customer.mobile[:3]
    assert body["id_number"] and customer.id_number not in json.dumps(body)
    assert body["name"] == customer.name


def test_assurance_counts_only_for_the_verified_customer(
    client: TestClient, tmp_path: Path
) -> None:
    life = [c for c in customers(client) if c.subsidiary == "life"]
    headers = internal(
        client,
        tmp_path,
        subject="agent.li",
        kind="user",
        subsidiary="life",
        assurance_level="L3",
        verified_customer=life[0].customer_id,
    )
    other = client.get(f"/api/v1/customers/{life[1].customer_id}", headers=headers).json()
    assert other["mobile"] is None and other["field_views"]["mobile"] == "hidden"


def test_other_subsidiary_and_unknown_id_look_the_same(client: TestClient, tmp_path: Path) -> None:
    bank = next(c for c in customers(client) if c.subsidiary == "bank")
    headers = internal(client, tmp_path, subject="agent.li", kind="user", subsidiary="life")
    denied = client.get(f"/api/v1/customers/{bank.customer_id}", headers=headers)
    missing = client.get("/api/v1/customers/C999999", headers=headers)
    assert denied.status_code == missing.status_code == 403
    assert denied.json()["detail"] == missing.json()["detail"]
    runtime = client.app_state.runtime  # type: ignore[attr-defined]
    with Session(runtime.database.engine) as session:
        payloads = [json.loads(e.payload) for e in session.exec(select(OutboxEvent)).all()]
    decisions = {p["decision_id"] for p in payloads}
    assert denied.json()["decision_id"] in decisions
    assert missing.json()["decision_id"] in decisions
    assert all(p["policy_version"] for p in payloads)


def test_page_size_is_limited(client: TestClient, tmp_path: Path) -> None:
    headers = internal(client, tmp_path, subject="agent.li", kind="user", subsidiary="life")
    assert client.get("/api/v1/customers?limit=1000", headers=headers).status_code == 422
    page = client.get("/api/v1/customers?limit=100", headers=headers).json()
    assert all(item["subsidiary"] == "life" for item in page["items"])
    assert page["total"] >= 60
