"""The call session a request names (`X-Anxin-Call-Session`), resolved by identity.

A request without the header runs at L0 with no verified customer. A request
with it is resolved on every call by identity's internal endpoint (the
gateway's service token, granted by policy):

- the agent's own open session: its level, verified customer and id go into
  the internal token;
- another agent's session or an unknown id: refused with 403 (the same
  answer for both, so ids cannot be probed);
- an expired or closed session: refused with 403 saying so (only its own
  agent learns that), because a client that names a session expects its
  level, and silently continuing at L0 would hide the problem;
- identity down, slow or answering nonsense: 503 (fail closed);
- a malformed id: 400.

Cache: the last answer per (agent, session) is kept with the session's
`version`. Identity is still asked every time, with the known version, and
answers "unchanged" (without the level) only when nothing the token carries
changed; expiry is checked before that, so invalidation is exact. Nothing is
ever served from the cache without identity's confirmation.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any

from anxin_shared.errors import BadRequest, DependencyUnavailable, Forbidden
from anxin_shared.http import ServiceClient
from anxin_shared.principal import ASSURANCE_LEVELS, Principal

HEADER = "x-anxin-call-session"
RESOLVE_PATH = "/internal/v1/call-sessions:resolve"
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
REFUSALS = {
    "no_access": "this call session is not yours or does not exist",
    "expired": "this call session has expired; open a new one",
    "closed": "this call session is closed; open a new one",
}


@dataclass(frozen=True)
class Lent:
    """What a usable session lends a request."""

    version: int
    assurance_level: str
    verified_customer: str | None


class CallSessionResolver:
    """Resolves the header into the principal's level, verified customer and session."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self.cache: OrderedDict[tuple[str, str], Lent] = OrderedDict()

    def _remember(self, key: tuple[str, str], lent: Lent) -> None:
        self.cache[key] = lent
        self.cache.move_to_end(key)
        while len(self.cache) > self.max_entries:
            self.cache.popitem(last=False)

    async def apply(
        self, peers: ServiceClient | None, principal: Principal, header: str | None
    ) -> Principal:
        """The principal with the session's level, or a refusal (403/400/503)."""
        if header is None:
            return principal
        session_id = header.strip()
        if not _SESSION_ID.fullmatch(session_id):
            raise BadRequest("X-Anxin-Call-Session is not a call-session id")
        if peers is None:
            raise DependencyUnavailable("identity is unavailable")
        key = (principal.subject, session_id)
        cached = self.cache.get(key)
        lent = await self._resolve(peers, principal, session_id, key, cached)
        if lent is None:  # "unchanged" for an entry evicted meanwhile: ask in full
            lent = await self._resolve(peers, principal, session_id, key, None)
        if lent is None:
            raise DependencyUnavailable("identity's answer does not match the cache")
        return replace(
            principal,
            assurance_level=lent.assurance_level,
            verified_customer=lent.verified_customer,
            call_session=session_id,
        )

    async def _resolve(
        self,
        peers: ServiceClient,
        principal: Principal,
        session_id: str,
        key: tuple[str, str],
        cached: Lent | None,
    ) -> Lent | None:
        response = await peers.call(
            "identity",
            "POST",
            RESOLVE_PATH,
            json={
                "call_session": session_id,
                "subject": principal.subject,
                "subsidiary": principal.subsidiary,
                "roles": list(principal.roles),
                "known_version": cached.version if cached else None,
            },
        )
        answer = _answer(response.status_code, response)
        if not answer.get("usable"):
            self.cache.pop(key, None)
            reason = str(answer.get("reason"))
            raise Forbidden(
                REFUSALS.get(reason, REFUSALS["no_access"]),
                decision_id=str(answer.get("decision_id") or ""),
                call_session_status=reason if reason in ("expired", "closed") else None,
            )
        version = answer.get("version")
        if not isinstance(version, int):
            raise DependencyUnavailable("identity answered without a session version")
        if answer.get("reason") == "unchanged":
            current = self.cache.get(key)
            return current if current is not None and current.version == version else None
        if answer.get("reason") != "ok":
            raise DependencyUnavailable("identity answered an unknown resolution")
        level = answer.get("assurance_level")
        if level not in ASSURANCE_LEVELS:
            raise DependencyUnavailable("identity answered an unknown assurance level")
        customer = answer.get("verified_customer")
        lent = Lent(version, str(level), str(customer) if customer else None)
        self._remember(key, lent)
        return lent


def _answer(status: int, response: Any) -> dict[str, Any]:
    if status != 200:
        raise DependencyUnavailable(f"identity refused to resolve the call session ({status})")
    try:
        body = response.json()
    except ValueError as exc:
        raise DependencyUnavailable("identity answered something unreadable") from exc
    if not isinstance(body, dict):
        raise DependencyUnavailable("identity answered something unreadable")
    return body
