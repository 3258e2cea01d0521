"""The declared call graph (what NetworkPolicies and compose allow) matches the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from anxin_shared.outbox import DELIVERY_ROUTES
from tests.deploy.anxin_deploy_support import CALLS

REPO = Path(__file__).resolve().parents[2]
BACKENDS = ("gateway", "identity", "consent", "profile", "audit")
_PEER_CALL = re.compile(r"""\.call\(\s*(?:PEER|"(identity|consent|profile|audit)")""")
_TOPIC = re.compile(r"""enqueue\(\s*\w+\s*,\s*(?:"([a-z.]+)"|([A-Z_]+))""")


def source(service: str) -> str:
    root = REPO / "services" / service
    return "\n".join(
        p.read_text(encoding="utf-8") for p in root.rglob("*.py") if "tests" not in p.parts
    )


def called_peers(service: str) -> set[str]:
    text = source(service)
    peers = {m.group(1) for m in _PEER_CALL.finditer(text) if m.group(1)}
    for match in re.finditer(r'^PEER\s*=\s*"(\w+)"', text, re.MULTILINE):
        peers.add(match.group(1))
    if "ConsentClient(" in text:
        peers.add("consent")
    for topic, destinations in DELIVERY_ROUTES.items():
        constant = {"audit.event": "AUDIT_TOPIC"}.get(topic, "")
        if (f'"{topic}"' in text and "enqueue(" in text) or (constant and constant in text):
            peers.update(peer for peer, _ in destinations)
    if service == "gateway":
        from anxin_gateway.routes import ROUTES

        peers.update(route.service for route in ROUTES)
    peers.discard(service)
    return peers


@pytest.mark.parametrize("service", BACKENDS)
def test_every_peer_a_service_calls_is_declared(service: str) -> None:
    assert called_peers(service) <= CALLS.get(service, set()), (
        f"{service} calls {sorted(called_peers(service) - CALLS.get(service, set()))}"
        " but the deployment's call graph (and so the NetworkPolicies) does not allow it"
    )


def test_the_graph_is_not_wider_than_the_code() -> None:
    for service, callees in CALLS.items():
        assert callees <= called_peers(service), (service, sorted(callees - called_peers(service)))
