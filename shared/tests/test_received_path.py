"""Audit events name the method and raw path the producing process received (issue 9 echo)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from anxin_shared.audit_event import decision_event
from anxin_shared.principal import Principal
from anxin_shared.telemetry import RequestIdMiddleware

ACTOR = Principal(subject="agent.li", kind="user", subsidiary="life")


def _app() -> FastAPI:
    app = FastAPI()

    @app.api_route("/api/v1/{rest:path}", methods=["GET", "POST"])
    def served(rest: str) -> dict[str, Any]:
        return decision_event("profile", ACTOR, None, action="read", resource="customer.profile")

    app.add_middleware(RequestIdMiddleware, trust_incoming=True)
    return app


def test_an_event_names_the_raw_path_received_without_the_query() -> None:
    with TestClient(_app()) as client:
        event = client.get("/api/v1/customers/C000002%2Fx?limit=1").json()
        assert (event["method"], event["path"]) == ("GET", "/api/v1/customers/C000002%2Fx")
        posted = client.post("/api/v1/customers/C000003/notes").json()
        assert (posted["method"], posted["path"]) == ("POST", "/api/v1/customers/C000003/notes")


def test_an_explicit_path_wins_and_outside_a_request_there_is_none() -> None:
    outside = decision_event("profile", ACTOR, None, action="read", resource="customer.profile")
    assert outside["path"] is None and outside["method"] is None
    given = decision_event(
        "gateway", ACTOR, None, action="read", resource="customer.profile", path="/p", method="PUT"
    )
    assert (given["method"], given["path"]) == ("PUT", "/p")
