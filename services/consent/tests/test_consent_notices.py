"""Consent notices: the seed and the listing API, in process, against a real SQLite file."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlmodel import func, select

from anxin_consent.main import create_app
from anxin_consent.notices.models import ConsentNotice
from anxin_consent.notices.schemas import ConsentNoticeCreate
from anxin_consent.notices.service import published_notice
from anxin_consent.seed import DEMO_NOTICES, PUBLISHED_AT, seed_notices
from anxin_consent.settings import ConsentSettings
from anxin_shared.audit_event import AUDIT_TOPIC
from anxin_shared.keys import load_key, private_key_path
from anxin_shared.outbox import OutboxEvent
from anxin_shared.policy import PolicyEngine
from anxin_shared.principal import Principal
from anxin_shared.tokens import TokenSigner

POLICIES_DIR = Path(__file__).resolve().parents[3] / "policies"
AUDIENCE = "anxin-consent"
NOTICES = "/api/v1/consent/notices"
STAFF: dict[str, tuple[str, tuple[str, ...]]] = {
    "agent.li": ("life", ("agent",)),
    "agent.zhang": ("pc", ("agent",)),
    "agent.wang": ("bank", ("agent",)),
    "auditor.zheng": ("group", ("internal_auditor",)),
}
LATER = datetime(2026, 12, 1, tzinfo=UTC)
SEEDED_KEYS = {"biometric-voiceprint", "life-to-bank-cross-sell", "marketing-contact-preferences"}


def consent_settings(tmp_path: Path, **overrides: Any) -> ConsentSettings:
    return ConsentSettings(
        env="dev",
        var_dir=tmp_path,
        policies_dir=POLICIES_DIR,
        database_url=f"sqlite:///{tmp_path}/consent.db",
        **overrides,
    )


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(consent_settings(tmp_path))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def gateway(client: TestClient, tmp_path: Path) -> TokenSigner:
    """The gateway's signer, from the dev keys the lifespan generated."""
    key = load_key(private_key_path(tmp_path / "keys", "gateway"))
    return TokenSigner(issuer="anxin-gateway", key=key, kid="gateway")


def bearer(signer: TokenSigner, subject: str, audience: str = AUDIENCE) -> dict[str, str]:
    subsidiary, roles = STAFF[subject]
    principal = Principal(
        subject=subject,
        kind="user",
        subsidiary=subsidiary,
        roles=roles,
        decision_id=uuid.uuid4().hex,
        request_id=uuid.uuid4().hex,
    )
    token = signer.mint(subject, audience, 30, **principal.internal_claims())
    return {"authorization": f"Bearer {token}"}


def notice_count(app: FastAPI) -> int:
    with app.state.runtime.database.session() as session:
        return int(session.exec(select(func.count()).select_from(ConsentNotice)).one())


def audit_events(app: FastAPI) -> dict[str, dict[str, Any]]:
    with app.state.runtime.database.session() as session:
        rows = session.exec(select(OutboxEvent).where(OutboxEvent.topic == AUDIT_TOPIC)).all()
        events = [json.loads(row.payload) for row in rows]
    # Only decisions on consent resources (the runtime also audits e.g. policy loads).
    return {
        event["decision_id"]: event
        for event in events
        if event.get("decision_id") and str(event.get("resource", "")).startswith("consent.")
    }


# --------------------------------------------------------------------------- listing


def test_agents_list_the_published_notices(client: TestClient, gateway: TokenSigner) -> None:
    for subject in ("agent.li", "agent.zhang", "agent.wang"):
        response = client.get(NOTICES, headers=bearer(gateway, subject))
        assert response.status_code == 200
        page = response.json()
        assert page["total"] == len(DEMO_NOTICES)
        assert {item["notice_key"] for item in page["items"]} == SEEDED_KEYS
        assert {item["status"] for item in page["items"]} == {"published"}
        assert page["decision_id"]


def test_listed_notices_carry_the_hash_of_their_text(
    client: TestClient, gateway: TokenSigner
) -> None:
    items = client.get(NOTICES, headers=bearer(gateway, "agent.li")).json()["items"]
    by_key = {item["notice_key"]: item for item in items}

    for item in items:
        assert item["text_hash"] == hashlib.sha256(item["text_zh"].encode("utf-8")).hexdigest()
        assert datetime.fromisoformat(item["published_at"]) == PUBLISHED_AT
    voiceprint = by_key["biometric-voiceprint"]
    assert voiceprint["categories"] == ["spi.biometric.voiceprint"]
    assert voiceprint["recipients"] == ["group"]
    assert "单独同意" in voiceprint["text_zh"]
    cross_sell = by_key["life-to-bank-cross-sell"]
    assert cross_sell["recipients"] == ["bank"]
    assert "第二十三条" in cross_sell["text_zh"]


def test_pages_follow_limit_and_offset(client: TestClient, gateway: TokenSigner) -> None:
    everything = client.get(NOTICES, headers=bearer(gateway, "agent.li")).json()["items"]
    page = client.get(
        NOTICES, params={"limit": 1, "offset": 1}, headers=bearer(gateway, "agent.li")
    ).json()

    assert (page["limit"], page["offset"], page["total"]) == (1, 1, len(DEMO_NOTICES))
    assert [item["id"] for item in page["items"]] == [everything[1]["id"]]


@pytest.mark.parametrize(
    "params", [{"limit": 1000}, {"limit": 101}, {"limit": 0}, {"offset": -1}, {"limit": "many"}]
)
def test_out_of_range_paging_is_a_422(
    params: dict[str, Any], app: FastAPI, client: TestClient, gateway: TokenSigner
) -> None:
    response = client.get(NOTICES, params=params, headers=bearer(gateway, "agent.li"))

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert audit_events(app) == {}


def test_draft_and_retired_notices_are_not_listed(
    app: FastAPI, client: TestClient, gateway: TokenSigner
) -> None:
    with app.state.runtime.database.session() as session:
        for version, status in ((2, "draft"), (3, "retired")):
            notice = published_notice(
                DEMO_NOTICES[0].model_copy(update={"version": version}), published_at=LATER
            )
            notice.status = status
            session.add(notice)

    page = client.get(NOTICES, headers=bearer(gateway, "agent.li")).json()

    assert notice_count(app) == len(DEMO_NOTICES) + 2
    assert page["total"] == len(DEMO_NOTICES)
    assert {item["version"] for item in page["items"]} == {1}


# --------------------------------------------------------------------------- access and audit


def test_a_role_without_the_grant_gets_403_with_a_decision_id(
    app: FastAPI, client: TestClient, gateway: TokenSigner
) -> None:
    response = client.get(NOTICES, headers=bearer(gateway, "auditor.zheng"))

    assert response.status_code == 403
    body = response.json()
    assert body["decision_id"]
    assert "items" not in body
    event = audit_events(app)[body["decision_id"]]
    assert (event["actor"], event["allowed"], event["failed_fact"]) == (
        "auditor.zheng",
        False,
        "policy",
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer not.a.token"},
    ],
)
def test_requests_without_an_internal_token_get_401(
    headers: dict[str, str], client: TestClient
) -> None:
    response = client.get(NOTICES, headers=headers)
    assert response.status_code == 401
    assert "text_zh" not in response.text


def test_a_token_for_another_service_gets_401(client: TestClient, gateway: TokenSigner) -> None:
    response = client.get(NOTICES, headers=bearer(gateway, "agent.li", audience="anxin-identity"))
    assert response.status_code == 401


def test_a_token_signed_by_another_key_gets_401(client: TestClient, tmp_path: Path) -> None:
    impostor = TokenSigner(
        issuer="anxin-gateway",
        kid="gateway",
        key=load_key(private_key_path(tmp_path / "keys", "profile")),
    )
    response = client.get(NOTICES, headers=bearer(impostor, "agent.li"))
    assert response.status_code == 401


def test_every_listing_decision_is_audited(
    app: FastAPI, client: TestClient, gateway: TokenSigner
) -> None:
    policy_version = PolicyEngine(POLICIES_DIR).load()
    allowed = client.get(NOTICES, headers=bearer(gateway, "agent.wang")).json()
    denied = client.get(NOTICES, headers=bearer(gateway, "auditor.zheng")).json()

    events = audit_events(app)

    assert set(events) == {allowed["decision_id"], denied["decision_id"]}
    assert allowed["policy_version"] == policy_version
    for decision_id, allowed_flag in (
        (allowed["decision_id"], True),
        (denied["decision_id"], False),
    ):
        event = events[decision_id]
        assert event["producer"] == "consent"
        assert (event["resource"], event["action"]) == ("consent.notice", "list")
        assert event["allowed"] is allowed_flag
        assert event["policy_version"] == policy_version
    assert events[allowed["decision_id"]]["domain"] == "bank"


# --------------------------------------------------------------------------- seed and model


def test_seed_is_idempotent(app: FastAPI, client: TestClient) -> None:
    seeded_on_start = notice_count(app)
    with app.state.runtime.database.session() as session:
        first = seed_notices(session)
    with app.state.runtime.database.session() as session:
        second = seed_notices(session)

    assert seeded_on_start == len(DEMO_NOTICES) >= 3
    assert (first, second) == (0, 0)
    assert notice_count(app) == seeded_on_start


def test_seed_fills_an_empty_database_once(tmp_path: Path) -> None:
    app = create_app(consent_settings(tmp_path, seed_demo_data=False))
    with TestClient(app):
        assert notice_count(app) == 0
        with app.state.runtime.database.session() as session:
            assert seed_notices(session) == len(DEMO_NOTICES)
        with app.state.runtime.database.session() as session:
            assert seed_notices(session) == 0
        assert notice_count(app) == len(DEMO_NOTICES)


def test_seed_can_be_switched_off(tmp_path: Path) -> None:
    app = create_app(consent_settings(tmp_path, seed_demo_data=False))
    with TestClient(app) as client:
        key = load_key(private_key_path(tmp_path / "keys", "gateway"))
        signer = TokenSigner(issuer="anxin-gateway", key=key, kid="gateway")
        page = client.get(NOTICES, headers=bearer(signer, "agent.li")).json()
    assert (page["total"], page["items"]) == (0, [])


def test_seeded_categories_and_recipients_are_declared_in_the_policy() -> None:
    state = PolicyEngine(POLICIES_DIR)
    state.load()
    classifications = set(state.state.classifications)
    catalogue = yaml.safe_load((POLICIES_DIR / "catalogue.yaml").read_text(encoding="utf-8"))

    for notice in DEMO_NOTICES:
        assert set(notice.categories) <= classifications, notice.notice_key
        assert set(notice.recipients) <= set(catalogue["subsidiaries"]), notice.notice_key


def test_notice_key_and_version_are_unique(app: FastAPI, client: TestClient) -> None:
    duplicate = published_notice(DEMO_NOTICES[0], published_at=LATER)
    with pytest.raises(sa.exc.IntegrityError), app.state.runtime.database.session() as session:
        session.add(duplicate)
        session.flush()
    assert notice_count(app) == len(DEMO_NOTICES)


@pytest.mark.parametrize(
    "change",
    [
        {"categories": []},
        {"categories": ["customer.mobile"]},
        {"recipients": ["someone-else"]},
        {"version": 0},
        {"notice_key": "Bad Key"},
        {"status": "published"},
    ],
)
def test_notice_definitions_are_validated(change: dict[str, Any]) -> None:
    definition = {**DEMO_NOTICES[0].model_dump(), **change}
    with pytest.raises(ValidationError):
        ConsentNoticeCreate.model_validate(definition)
