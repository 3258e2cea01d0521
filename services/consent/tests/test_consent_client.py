"""`anxin_shared.consent.ConsentClient` against the real consent app (ASGI) and failing doubles."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from anxin_consent.main import create_app
from anxin_consent.settings import ConsentSettings
from anxin_shared.consent import ConsentCheck, ConsentClient
from anxin_shared.errors import DependencyUnavailable
from anxin_shared.http import ServiceClient
from anxin_shared.keys import ensure_dev_keys, load_key, private_key_path
from anxin_shared.principal import Principal
from anxin_shared.tokens import TokenSigner

POLICIES_DIR = Path(__file__).resolve().parents[3] / "policies"
CUSTOMER = "C000002"
RECORDING_HASH = hashlib.sha256(b"yes").hexdigest()
CROSS_SELL = {"notice_key": "life-to-bank-cross-sell", "notice_version": 1, "recipient": "bank"}


def profile_double(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("/exists"):
        return httpx.Response(200, json={"exists": True, "subsidiary": "life"})
    return httpx.Response(200, json={})


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    settings = ConsentSettings(
        env="dev",
        var_dir=tmp_path,
        policies_dir=POLICIES_DIR,
        database_url=f"sqlite:///{tmp_path}/consent.db",
        outbox_interval_seconds=60,
    )
    application = create_app(settings, http_transport=httpx.MockTransport(profile_double))
    with TestClient(application) as client:
        application.state.test_client = client
        yield application


def signer(keys: Path, name: str) -> TokenSigner:
    issuer = "anxin-gateway" if name == "gateway" else f"anxin-{name}"
    return TokenSigner(issuer=issuer, key=load_key(private_key_path(keys, name)), kid=name)


def as_client_system(keys: Path) -> dict[str, str]:
    principal = Principal(
        subject="life-claims-system",
        kind="client",
        subsidiary="life",
        roles=("subsidiary_client",),
        decision_id=uuid.uuid4().hex,
    )
    token = signer(keys, "gateway").mint(
        principal.subject, "anxin-consent", 30, **principal.internal_claims()
    )
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        yield client


def consent_client(keys: Path, http: httpx.AsyncClient, caller: str = "profile") -> ConsentClient:
    peers = ServiceClient(caller, signer(keys, caller), {"consent": "http://consent"}, http)
    return ConsentClient(peers)


async def test_check_follows_grant_and_withdrawal(
    app: FastAPI, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    client = consent_client(keys, http)
    before = await client.check(CUSTOMER, "cross_sell", "pi.contact.phone", "bank")
    assert before == ConsentCheck(False, None, None, None, "no_consent")

    test_client: TestClient = app.state.test_client
    granted = test_client.post(
        "/api/v1/consent/records",
        json={
            "customer_id": CUSTOMER,
            "category": "pi.contact.phone",
            "channel": "counter",
            "evidence_ref": "form-scan:2026-11-26-001",
            **CROSS_SELL,
        },
        headers=as_client_system(keys),
    )
    assert granted.status_code == 201, granted.text
    record_id = granted.json()["record"]["record_id"]

    allowed = await client.check(CUSTOMER, "cross_sell", "pi.contact.phone", "bank")
    assert allowed == ConsentCheck(True, record_id, "life-to-bank-cross-sell", 1, "granted")
    several = await client.check_all(
        CUSTOMER, "cross_sell", ["pi.contact.phone", "pi.identity.name", "pi.contact.phone"], "bank"
    )
    assert list(several) == ["pi.contact.phone", "pi.identity.name"]
    assert several["pi.contact.phone"].allowed is True
    assert several["pi.identity.name"].allowed is False

    withdrawn = test_client.post(
        "/api/v1/consent/withdrawals",
        json={
            "customer_id": CUSTOMER,
            "purpose": "cross_sell",
            "category": "pi.contact.phone",
            "recipient": "bank",
            "channel": "app",
            "evidence_ref": "app-withdrawal:77",
        },
        headers=as_client_system(keys),
    )
    assert withdrawn.status_code == 201
    after = await client.check(CUSTOMER, "cross_sell", "pi.contact.phone", "bank")
    assert (after.allowed, after.reason) == (False, "withdrawn")


async def test_a_caller_the_policy_does_not_name_fails_closed(
    http: httpx.AsyncClient, tmp_path: Path
) -> None:
    client = consent_client(tmp_path / "keys", http, caller="audit")
    with pytest.raises(DependencyUnavailable):
        await client.check(CUSTOMER, "cross_sell", "pi.contact.phone", "bank")


@pytest.mark.parametrize(
    "handler",
    [
        lambda request: httpx.Response(503),
        lambda request: httpx.Response(200, json={"allowed": "yes"}),
        lambda request: httpx.Response(200, content=b"not json"),
        lambda request: httpx.Response(422, json={"detail": "bad"}),
    ],
)
async def test_anything_but_a_clear_answer_fails_closed(handler: object, tmp_path: Path) -> None:
    ensure_dev_keys(tmp_path / "keys")
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:  # type: ignore[arg-type]
        client = consent_client(tmp_path / "keys", http)
        with pytest.raises(DependencyUnavailable):
            await client.check(CUSTOMER, "cross_sell", "pi.contact.phone", "bank")
        with pytest.raises(DependencyUnavailable):
            await client.check_all(CUSTOMER, "cross_sell", ["pi.contact.phone"], "bank")


async def test_consent_unreachable_fails_closed(tmp_path: Path) -> None:
    ensure_dev_keys(tmp_path / "keys")

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        client = consent_client(tmp_path / "keys", http)
        with pytest.raises(DependencyUnavailable):
            await client.check(CUSTOMER, "cross_sell", "pi.contact.phone", "bank")
    with pytest.raises(DependencyUnavailable):
        await ConsentClient(None).check(CUSTOMER, "cross_sell", "pi.contact.phone", "bank")
