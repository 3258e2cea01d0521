"""The verified caller, as the gateway vouches for it in the internal token."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, cast

from anxin_shared.errors import Unauthenticated

PrincipalKind = Literal["user", "client", "service"]
ASSURANCE_LEVELS = ("L0", "L1", "L2", "L3")


@dataclass(frozen=True)
class Principal:
    """Who is calling, for which subsidiary, at which assurance level."""

    subject: str
    kind: PrincipalKind
    subsidiary: str
    roles: tuple[str, ...] = ()
    assurance_level: str = "L0"
    call_session: str | None = None
    verified_customer: str | None = None
    decision_id: str | None = None
    request_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def internal_claims(self) -> dict[str, Any]:
        """Claims the gateway puts in the internal token (besides iss/sub/aud/times)."""
        return {
            "kind": self.kind,
            "subsidiary": self.subsidiary,
            "roles": list(self.roles),
            "assurance_level": self.assurance_level,
            "call_session": self.call_session,
            "verified_customer": self.verified_customer,
            "decision_id": self.decision_id,
            "request_id": self.request_id,
        }

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Principal:
        """Rebuild the principal from verified internal-token claims."""
        level = claims.get("assurance_level") or "L0"
        if level not in ASSURANCE_LEVELS:
            level = "L0"
        kind = claims.get("kind")
        if kind not in ("user", "client", "service"):
            raise Unauthenticated("token names no known kind of principal")
        roles = claims.get("roles") or []
        return cls(
            subject=str(claims["sub"]),
            kind=cast(PrincipalKind, kind),
            subsidiary=str(claims.get("subsidiary") or ""),
            roles=tuple(str(role) for role in roles) if isinstance(roles, list) else (),
            assurance_level=level,
            call_session=claims.get("call_session"),
            verified_customer=claims.get("verified_customer"),
            decision_id=claims.get("decision_id"),
            request_id=claims.get("request_id"),
        )
