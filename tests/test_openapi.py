"""The gateway's /openapi.json describes the whole public API, from fresh snapshots."""

from __future__ import annotations

import json

import pytest

from anxin_gateway.openapi import SNAPSHOT_DIR, merged_openapi
from anxin_gateway.routes import ROUTES
from scripts.export_openapi import BACKENDS, render


@pytest.mark.parametrize("service", BACKENDS)
def test_snapshot_is_current(service: str) -> None:
    stored = (SNAPSHOT_DIR / f"{service}.json").read_text(encoding="utf-8")
    assert stored == render(service), f"run `make openapi`: the {service} snapshot is stale"


@pytest.mark.parametrize(
    "route", [r for r in ROUTES if r.service != "gateway"], ids=lambda r: f"{r.method} {r.path}"
)
def test_every_routed_operation_exists_in_its_service(route) -> None:  # type: ignore[no-untyped-def]
    snapshot = json.loads((SNAPSHOT_DIR / f"{route.service}.json").read_text())
    assert route.method.lower() in snapshot["paths"].get(route.path, {}), (
        f"{route.method} {route.path} is routed to {route.service}, which does not serve it"
    )


def test_merged_document_lists_every_route_and_only_those() -> None:
    document = merged_openapi()
    declared = {(r.path, r.method.lower()) for r in ROUTES}
    listed = {(path, method) for path, item in document["paths"].items() for method in item}
    assert listed == declared
    for path, item in document["paths"].items():
        assert path.startswith("/api/v1/")
        for operation in item.values():
            assert operation["security"] == [{"bearer": []}]
            assert "403" in operation["responses"] and "401" in operation["responses"]
