"""Inbound authentication for the services behind the gateway.

A service believes exactly two kinds of bearer token, both for its own
audience: the gateway's internal token (an agent or client request the
gateway authorized) and another service's own token (a service-to-service
call). Anything else, including a request sent straight to the service port
with a user's token, is refused with 401.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import Request

from anxin_shared.errors import Unauthenticated
from anxin_shared.keys import KeySet
from anxin_shared.principal import Principal
from anxin_shared.settings import SERVICES
from anxin_shared.tokens import (
    INTERNAL_ISSUER,
    MAX_INTERNAL_LIFETIME,
    IssuerConfig,
    TokenVerifier,
    service_issuer,
)


def bearer_token(request: Request) -> str:
    """The bearer token of the request, or raise 401."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("a bearer token is required")
    return token.strip()


def internal_verifier(service: str, keys_dir: Path) -> TokenVerifier:
    """Verifier for tokens addressed to `service`: the gateway's and its peers'.

    Each issuer trusts every one of its public keys on file (`<peer>.pub.pem` and
    `<peer>.<suffix>.pub.pem`, see `anxin_shared.keys`), re-read while running, so a
    key rotation needs no restart of the verifying services.
    """
    gateway_keys = KeySet(keys_dir, "gateway")
    if not gateway_keys:
        raise FileNotFoundError(f"no gateway public key in {keys_dir}")
    issuers = {
        INTERNAL_ISSUER: IssuerConfig(
            issuer=INTERNAL_ISSUER,
            keys=gateway_keys,
            max_lifetime_seconds=MAX_INTERNAL_LIFETIME,
        )
    }
    for peer in SERVICES:
        if peer in ("gateway", service):
            continue
        # Always registered: a peer key published later is found by its key id.
        issuers[service_issuer(peer)] = IssuerConfig(
            issuer=service_issuer(peer),
            keys=KeySet(keys_dir, peer),
            max_lifetime_seconds=MAX_INTERNAL_LIFETIME,
            bound_subject=f"service:{peer}",
        )
    return TokenVerifier(issuers=issuers, audience=f"anxin-{service}")


class InternalAuth:
    """FastAPI dependencies that turn the bearer token into a `Principal`."""

    def __init__(self, verifier: TokenVerifier) -> None:
        self.verifier = verifier

    def principal(self, request: Request) -> Principal:
        """A request the gateway authorized (an agent's or a client's)."""
        claims = self.verifier.verify(bearer_token(request))
        if claims.get("iss") != INTERNAL_ISSUER or claims.get("kind") == "service":
            raise Unauthenticated("this operation is reached only through the gateway")
        principal = Principal.from_claims(claims)
        request.state.principal = principal
        return principal

    def service_caller(self, request: Request) -> Principal:
        """A call from another Anxin service, signed with that service's key."""
        claims = self.verifier.verify(bearer_token(request))
        caller = str(claims.get("iss", "")).removeprefix("anxin-")
        if claims.get("kind") != "service" or claims.get("sub") != f"service:{caller}":
            raise Unauthenticated("this operation is for Anxin services only")
        principal = Principal.from_claims(claims)
        request.state.principal = principal
        return principal
