"""Who is calling: agents (the identity provider's tokens) and subsidiary systems.

Two kinds of issuer, from a set built at start-up (and again when the client
catalogue changes); each issuer's public keys are re-read from their folder
while running (`anxin_shared.keys.KeySet`: `<name>.pub.pem` plus
`<name>.<suffix>.pub.pem`, key id = file name without `.pub.pem`), so the IdP
or a client can rotate its key with an overlap and no gateway restart:
* the agents' identity provider (in dev, the dev issuer whose key is generated
  into `var/keys/`);
* one issuer per subsidiary client, each with its own key, which may sign only
  for that client (another subsidiary's key, or the IdP's, cannot).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jose.backends.base import Key

from anxin_gateway.settings import GatewaySettings
from anxin_shared.errors import Unauthenticated
from anxin_shared.keys import PUBLIC_SUFFIX, KeySet, load_key
from anxin_shared.policy import PolicyEngine
from anxin_shared.principal import Principal
from anxin_shared.tokens import IssuerConfig, TokenVerifier

GATEWAY_AUDIENCE = "anxin-gateway"


def catalogue_clients(policy: PolicyEngine) -> dict[str, dict[str, Any]]:
    """The machine clients declared in `policies/catalogue.yaml`."""
    clients = policy.state.catalogue.get("clients") or {}
    return {str(name): dict(spec or {}) for name, spec in clients.items()}


def idp_keys(key_file: Path) -> Mapping[str, Key]:
    """The IdP's keys: `<name>.pub.pem` and its rotations `<name>.<suffix>.pub.pem` beside it.

    A key file not named `*.pub.pem` is a single static key (key id `idp`).
    """
    if key_file.name.endswith(PUBLIC_SUFFIX):
        keys = KeySet(key_file.parent, key_file.name[: -len(PUBLIC_SUFFIX)])
        if not keys:
            raise FileNotFoundError(f"no identity provider key at {key_file}")
        return keys
    return {"idp": load_key(key_file)}


def build_verifier(settings: GatewaySettings, clients: dict[str, dict[str, Any]]) -> TokenVerifier:
    """The issuer set: the IdP plus one issuer per client with a key on file."""
    assert settings.idp_public_key_file is not None
    issuers = {
        settings.idp_issuer: IssuerConfig(
            issuer=settings.idp_issuer,
            keys=idp_keys(Path(settings.idp_public_key_file)),
            max_lifetime_seconds=settings.idp_max_token_lifetime_seconds,
        )
    }
    client_dir = Path(str(settings.client_keys_dir))
    for client_id in clients:
        keys = KeySet(client_dir, client_id)
        if keys:
            issuers[client_id] = IssuerConfig(
                issuer=client_id,
                keys=keys,
                max_lifetime_seconds=settings.client_max_token_lifetime_seconds,
                bound_subject=client_id,
            )
    return TokenVerifier(issuers=issuers, audience=GATEWAY_AUDIENCE)


class Authenticator:
    """Turns a bearer token into a principal, with roles from the policy in force."""

    def __init__(self, settings: GatewaySettings, policy: PolicyEngine) -> None:
        self.settings = settings
        self.policy = policy
        self._verifier: TokenVerifier | None = None
        self._clients: dict[str, dict[str, Any]] = {}
        self._catalogue_version: str | None = None

    def refresh(self) -> None:
        """Rebuild the issuer set (at start-up, and when the client catalogue changes).

        The catalogue is part of the policy, so it is read again only when the
        policy version changes, not on every request.
        """
        version = self.policy.version
        if self._verifier is not None and version == self._catalogue_version:
            return
        clients = catalogue_clients(self.policy)
        if self._verifier is None or clients != self._clients:
            self._verifier = build_verifier(self.settings, clients)
            self._clients = clients
        self._catalogue_version = version

    def authenticate(self, authorization: str | None, request_id: str) -> Principal:
        """Verify the bearer token; raise 401 for anything short of a valid one."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("a bearer token is required")
        self.refresh()
        assert self._verifier is not None
        claims = self._verifier.verify(token.strip())
        subject = str(claims["sub"])
        if claims["iss"] == self.settings.idp_issuer:
            claimed = claims.get("subsidiary")
            subsidiary = claimed if isinstance(claimed, str) and claimed else None
            subsidiary = subsidiary or self.policy.home_subsidiary(subject) or ""
            kind = "user"
        else:
            subsidiary = str(self._clients.get(subject, {}).get("subsidiary") or "")
            kind = "client"
        roles = tuple(self.policy.roles_for(subject, subsidiary)) if subsidiary else ()
        return Principal(
            subject=subject,
            kind=kind,  # type: ignore[arg-type]
            subsidiary=subsidiary,
            roles=roles,
            request_id=request_id,
        )
