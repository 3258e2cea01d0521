"""Helpers for the profile service's in-process tests (a real app, real policy, real SQLite)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from anxin_profile.clock import Clock
from anxin_profile.demo_data import generate_customers
from anxin_profile.main import create_app
from anxin_profile.settings import ProfileSettings
from anxin_shared.keys import load_key, private_key_path
from anxin_shared.outbox import OutboxEvent
from anxin_shared.principal import Principal
from anxin_shared.tokens import TokenSigner, service_issuer

POLICIES = Path(__file__).resolve().parents[3] / "policies"
DEMO = generate_customers()
RAW_NUMBERS = {
    n for c in DEMO for n in (c.mobile, c.id_number, c.bank_account, c.policy_number) if n
}
Handler = Callable[[httpx.Request], httpx.Response]


def _ok(_: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={})


@contextmanager
def profile_app(
    tmp: Path, clock: Clock | None = None, peer: Handler | None = None, **overrides: Any
) -> Iterator[TestClient]:
    """The profile app with its own database, an optional movable clock, peer double, settings."""
    settings = ProfileSettings(
        env="dev",
        var_dir=tmp,
        policies_dir=POLICIES,
        quality_enforcement_interval_seconds=0,
        **overrides,
    )
    transport = httpx.MockTransport(peer or _ok)
    app = create_app(settings, clock=clock or Clock(), http_transport=transport)
    with TestClient(app) as client:
        client.keys = tmp / "keys"  # type: ignore[attr-defined]
        client.runtime = app.state.runtime  # type: ignore[attr-defined]
        client.clock = app.state.clock  # type: ignore[attr-defined]
        yield client


def as_user(client: TestClient, **principal: Any) -> dict[str, str]:
    """Headers with a gateway-minted internal token for this principal."""
    signer = TokenSigner(
        "anxin-gateway",
        load_key(private_key_path(client.keys, "gateway")),  # type: ignore[attr-defined]
        "gateway",
    )
    principal.setdefault("kind", "user")
    who = Principal(**principal)
    token = signer.mint(who.subject, "anxin-profile", 60, **who.internal_claims())
    return {"authorization": f"Bearer {token}"}


def as_service(client: TestClient, service: str = "identity") -> dict[str, str]:
    """Headers of a peer service's own token (identity, consent, audit) for internal routes."""
    signer = TokenSigner(
        service_issuer(service),
        load_key(private_key_path(client.keys, service)),  # type: ignore[attr-defined]
        service,
    )
    token = signer.mint(
        f"service:{service}", "anxin-profile", 30, kind="service", subsidiary="group"
    )
    return {"authorization": f"Bearer {token}"}


def in_call(client: TestClient, subject: str, subsidiary: str, customer_id: str, level: str):
    """An agent whose call session verified `customer_id` to `level`."""
    return as_user(
        client,
        subject=subject,
        subsidiary=subsidiary,
        assurance_level=level,
        verified_customer=customer_id,
        call_session="cs-test-0001",
    )


def audit_events(client: TestClient) -> list[dict[str, Any]]:
    """Every audit event the profile service enqueued."""
    with Session(client.runtime.database.engine) as session:  # type: ignore[attr-defined]
        rows = session.exec(select(OutboxEvent).where(OutboxEvent.topic == "audit.event")).all()
        return [json.loads(row.payload) for row in rows]


def leaked(text: str) -> list[str]:
    """Raw demo numbers that appear in a response body."""
    return sorted(number for number in RAW_NUMBERS if number in text)


def demo(predicate: Callable[[Any], bool]) -> Any:
    """The first demo customer matching `predicate`."""
    return next(c for c in DEMO if predicate(c))
