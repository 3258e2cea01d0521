"""The dev issuer: tokens for seeded subjects, signed with keys generated in `var/keys/`.

Only ever used with `ANXIN_ENV=dev`: the gateway mounts `/dev/*` and the CLI
mints with it only then, and the gateway outside dev refuses the dev issuer.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from anxin_shared.errors import NotFound
from anxin_shared.keys import load_key, private_key_path
from anxin_shared.policy import PolicyEngine
from anxin_shared.tokens import TokenSigner

DEV_IDP_ISSUER = "anxin-dev-idp"
GATEWAY_AUDIENCE = "anxin-gateway"
USER_TOKEN_LIFETIME = 8 * 3600
CLIENT_TOKEN_LIFETIME = 900


@dataclass(frozen=True)
class DevSubject:
    """A seeded user or client, as `/dev/subjects` lists it."""

    subject: str
    kind: str
    subsidiary: str
    roles: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "subject": self.subject,
            "kind": self.kind,
            "subsidiary": self.subsidiary,
            "roles": list(self.roles),
        }


def dev_subjects(policy: PolicyEngine) -> list[DevSubject]:
    """Every subject with a grant in the policy, users and clients alike."""
    clients = policy.state.catalogue.get("clients") or {}
    found: dict[str, DevSubject] = {}
    for subject, role, domain in policy.grants():
        if subject.startswith("service:"):
            continue
        subsidiary = "group" if domain == "*" else domain
        kind = "client" if subject in clients else "user"
        if subject in found:
            previous = found[subject]
            found[subject] = DevSubject(
                subject, kind, previous.subsidiary, tuple(sorted({*previous.roles, role}))
            )
        else:
            found[subject] = DevSubject(subject, kind, subsidiary, (role,))
    return sorted(found.values(), key=lambda item: (item.kind, item.subject))


@lru_cache(maxsize=64)
def _signer(key_file: Path, issuer: str, kid: str) -> TokenSigner:
    return TokenSigner(issuer=issuer, key=load_key(key_file), kid=kid)


def mint_dev_token(
    policy: PolicyEngine, keys_dir: Path, subject: str, lifetime: int | None = None
) -> str:
    """A gateway token for a seeded subject; unknown subjects get 404."""
    known = {item.subject: item for item in dev_subjects(policy)}
    if subject not in known:
        raise NotFound("no seeded subject by that name; see GET /dev/subjects")
    item = known[subject]
    if item.kind == "client":
        signer = _signer(keys_dir / "clients" / f"{subject}.key.pem", subject, subject)
        return signer.mint(subject, GATEWAY_AUDIENCE, lifetime or CLIENT_TOKEN_LIFETIME)
    signer = _signer(private_key_path(keys_dir, "idp"), DEV_IDP_ISSUER, "idp")
    return signer.mint(
        subject, GATEWAY_AUDIENCE, lifetime or USER_TOKEN_LIFETIME, subsidiary=item.subsidiary
    )
