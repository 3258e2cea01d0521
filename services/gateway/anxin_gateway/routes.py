"""The declared route table: every public path, what it touches, who decides.

The gateway forwards nothing that is not in this table. Each entry names
the owning service, the catalogued resource and action the policy decides on,
and the assurance level the call session must at least have reached. Path
parameters match a conservative id alphabet only; matching is exact and
case-sensitive (no trailing-slash or case folding).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from anxin_shared.errors import MethodNotAllowed, NotFound
from anxin_shared.principal import ASSURANCE_LEVELS

_PARAM = re.compile(r"\{([a-z_]+)\}")
_ID_ALPHABET = r"[A-Za-z0-9_-]{1,64}"


@dataclass(frozen=True)
class RouteSpec:
    """One public operation."""

    method: str
    path: str
    service: str
    resource: str
    action: str
    min_assurance: str = "L0"
    summary: str = ""

    def __post_init__(self) -> None:
        if self.min_assurance not in ASSURANCE_LEVELS:
            raise ValueError(f"unknown assurance level {self.min_assurance}")

    @property
    def pattern(self) -> re.Pattern[str]:
        """The compiled matcher for this path template."""
        return re.compile("^" + _PARAM.sub(f"(?P<\\1>{_ID_ALPHABET})", self.path) + "$")


# One table per owning service, so each service's routes are read (and edited) together.
GATEWAY_ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec(
        "GET",
        "/api/v1/policy/version",
        "gateway",
        "policy.version",
        "read",
        summary="The policy version this gateway enforces",
    ),
)

IDENTITY_ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec(
        "POST",
        "/api/v1/calls",
        "identity",
        "call.session",
        "create",
        summary="Open a call session for an inbound or outbound call",
    ),
    RouteSpec(
        "GET",
        "/api/v1/calls/{session_id}",
        "identity",
        "call.session",
        "read",
        summary="Read one of your call sessions",
    ),
)

CONSENT_ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec(
        "GET",
        "/api/v1/consent/notices",
        "consent",
        "consent.notice",
        "read",
        summary="List published consent notices",
    ),
)

PROFILE_ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec(
        "GET",
        "/api/v1/customers",
        "profile",
        "customer.profile",
        "read",
        summary="List customers of your subsidiary, masked",
    ),
    RouteSpec(
        "GET",
        "/api/v1/customers/{customer_id}",
        "profile",
        "customer.profile",
        "read",
        summary="Read a customer's profile, masked by policy",
    ),
)

AUDIT_ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec(
        "GET",
        "/api/v1/audit/events",
        "audit",
        "audit.event",
        "read",
        summary="Query the audit trail",
    ),
    RouteSpec(
        "GET",
        "/api/v1/audit/chain/verify",
        "audit",
        "audit.event",
        "verify",
        summary="Verify the audit hash chain",
    ),
)

ROUTES: tuple[RouteSpec, ...] = (
    GATEWAY_ROUTES + IDENTITY_ROUTES + CONSENT_ROUTES + PROFILE_ROUTES + AUDIT_ROUTES
)


@dataclass(frozen=True)
class RouteMatch:
    """A request matched to its declared route."""

    route: RouteSpec
    params: dict[str, str]


class RouteTable:
    """Looks up (method, path) in the declared routes: 404 or 405 otherwise."""

    def __init__(self, routes: tuple[RouteSpec, ...] = ROUTES) -> None:
        self.routes = routes
        self._compiled = [(route, route.pattern) for route in routes]

    def match(self, method: str, path: str) -> RouteMatch:
        """The route for this request, or raise NotFound / MethodNotAllowed."""
        allowed: list[str] = []
        for route, pattern in self._compiled:
            found = pattern.match(path)
            if found is None:
                continue
            if route.method == method:
                return RouteMatch(route, found.groupdict())
            allowed.append(route.method)
        if allowed:
            raise MethodNotAllowed(allowed)
        raise NotFound("no such route")
