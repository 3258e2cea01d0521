"""The call session a request names (`X-Anxin-Call-Session`), resolved by identity.

A request without the header runs at L0 with no verified customer. A request
with it gets the session's level and verified customer, as identity answers
them (the gateway's service token, granted by policy):

- the agent's own open session: its level, verified customer and id go into
  the internal token;
- another agent's session or an unknown id: refused with 403 (the same
  answer for both, so ids cannot be probed);
- an expired or closed session: refused with 403 saying so (only its own
  agent learns that), because a client that names a session expects its
  level, and silently continuing at L0 would hide the problem;
- identity down, slow or answering nonsense: 503 (fail closed);
- a malformed id: 400.

Leases. Asking identity on every call cost more than every other check of the
call together (`benchmarks/gateway.py`), so an answer is kept as a lease and
used without asking while all of these hold:

- the change feed is live: a read of identity's call-session changes
  (`ChangeFeed`, every `POLL_INTERVAL`) that started less than `LIVE_WINDOW`
  ago succeeded. Identity down, hung or unreadable ends every lease;
- no change of the session newer than the answer has been read from the feed
  (identity numbers changes; the answer carries the newest number it reflects);
- the rules the answer was decided under (access policy version, assurance
  policy hash) are the ones the feed reports now;
- the session has not expired (minus `EXPIRY_MARGIN`), and the lease is younger
  than `MAX_LEASE_AGE`;
- no request changing the session (`/api/v1/calls/{id}/...` other than GET)
  has passed through this gateway since, unless a feed read that started after
  it answered has succeeded (so its change is known: "closed" is refused at once).

A change made through another gateway replica reaches this one with the next
feed read: within `POLL_INTERVAL` plus a read, and never later than
`LIVE_WINDOW`. Otherwise identity is asked, with the version it gave last; it
answers "unchanged" (without the level) only when nothing the token carries
changed, expiry checked first.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from anxin_shared.errors import BadRequest, DependencyUnavailable, Forbidden
from anxin_shared.http import ServiceClient
from anxin_shared.principal import ASSURANCE_LEVELS, Principal

HEADER = "x-anxin-call-session"
RESOLVE_PATH = "/internal/v1/call-sessions:resolve"
CHANGES_PATH = "/internal/v1/call-sessions/changes"
POLL_INTERVAL = 0.1  # seconds between reads of identity's change feed
LIVE_WINDOW = 1.0  # a lease is used only if a feed read started this recently succeeded
MAX_LEASE_AGE = 30.0  # identity is asked again at least this often for a session
EXPIRY_MARGIN = 1.0  # a lease ends this long before its session expires (clock skew)
MAX_REMEMBERED = 100_000  # sessions whose newest change the feed remembers
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
REFUSALS = {
    "no_access": "this call session is not yours or does not exist",
    "expired": "this call session has expired; open a new one",
    "closed": "this call session is closed; open a new one",
}
logger = logging.getLogger("anxin.gateway.callsessions")


@dataclass(frozen=True)
class Lease:
    """What using an answer without asking again rests on."""

    expires_at: float | None = None  # the session's expiry, epoch seconds
    change_seq: int | None = None  # the newest change the answer reflects
    fingerprint: str | None = None  # the rules it was decided under
    granted: float = 0.0  # monotonic

    @classmethod
    def of(cls, answer: dict[str, Any], now: float) -> Lease:
        """The lease terms of one of identity's answers."""
        seq, rules = answer.get("change_seq"), answer.get("fingerprint")
        return cls(
            expires_at=_epoch(answer.get("expires_at")),
            change_seq=seq if isinstance(seq, int) else None,
            fingerprint=str(rules) if rules else None,
            granted=now,
        )


@dataclass(frozen=True)
class Lent:
    """What a usable session lends a request, and the lease it is held on."""

    agent: str
    version: int
    assurance_level: str
    verified_customer: str | None
    lease: Lease = Lease()


class ChangeFeed:
    """Identity's call-session changes, read every `POLL_INTERVAL`: the leases' lifeline."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.seq: int | None = None  # None: not following (no lease may be used)
        self.fingerprint: str | None = None
        self.heard = -float("inf")  # when the last successful read started
        self.reads = 0  # reads started
        self.synced = -1  # the number of the last successful read
        self.recent: OrderedDict[str, int] = OrderedDict()  # session -> newest change
        self.forgotten = 0  # no lease resting on a change up to this one may be used
        self.on_reset: Callable[[], None] = lambda: None
        self.on_change: Callable[[str], None] = lambda _: None

    def live(self) -> bool:
        """Whether leases may be used now."""
        return self.seq is not None and self.clock() - self.heard < LIVE_WINDOW

    def newest_change(self, session_id: str) -> int:
        """The newest change of this session read so far (-1 if none)."""
        return self.recent.get(session_id, -1)

    def reset(self) -> None:
        """Stop trusting anything read so far: every lease ends."""
        self.seq = None
        self.fingerprint = None
        self.recent.clear()
        self.on_reset()

    def apply(self, started: int, began: float, answer: dict[str, Any]) -> None:
        """Take one read's answer (read number `started`, begun at `began`)."""
        seq, changes = answer.get("seq"), answer.get("changes")
        fingerprint = answer.get("fingerprint")
        if not isinstance(seq, int) or not isinstance(changes, list) or not fingerprint:
            raise DependencyUnavailable("identity answered an unreadable change feed")
        if answer.get("complete") is not True or (
            self.fingerprint is not None and fingerprint != self.fingerprint
        ):
            self.reset()
        if self.seq is None:
            self.forgotten = seq  # changes before this were never read: no lease rests on them
        for number, session_id in changes:
            if int(number) > self.recent.get(str(session_id), -1):
                self._remember(str(session_id), int(number))
                self.on_change(str(session_id))
        self.seq, self.fingerprint = max(seq, self.seq or 0), str(fingerprint)
        self.heard, self.synced = max(self.heard, began), max(self.synced, started)

    def _remember(self, session_id: str, number: int) -> None:
        self.recent[session_id] = number
        self.recent.move_to_end(session_id)
        while len(self.recent) > MAX_REMEMBERED:
            _, dropped = self.recent.popitem(last=False)
            self.forgotten = max(self.forgotten, dropped)

    async def read(self, peers: ServiceClient) -> None:
        """One read of the feed; any failure ends every lease."""
        self.reads += 1
        started, began = self.reads, self.clock()
        params = {} if self.seq is None else {"after": str(self.seq)}
        try:
            response = await peers.call("identity", "GET", CHANGES_PATH, params=params)
            if response.status_code != 200:
                raise DependencyUnavailable(
                    f"identity refused the change feed ({response.status_code})"
                )
            self.apply(started, began, response.json())
        except Exception:
            self.reset()
            raise

    async def follow(self, peers: ServiceClient) -> None:
        """Read the feed for as long as the gateway runs (logging when it stops and resumes)."""
        failing = False
        while True:
            try:
                await self.read(peers)
                if failing:
                    logger.warning("call-session change feed resumed: leases are used again")
                failing = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not failing:
                    logger.warning(
                        "call-session change feed unavailable (%s): every call naming a "
                        "session asks identity",
                        type(exc).__name__,
                    )
                failing = True
            await asyncio.sleep(POLL_INTERVAL)


class CallSessionResolver:
    """Resolves the header into the principal's level, verified customer and session."""

    def __init__(self, max_entries: int = 10_000, feed: ChangeFeed | None = None) -> None:
        self.max_entries = max_entries
        self.cache: OrderedDict[str, Lent] = OrderedDict()  # by session id
        self.feed = feed or ChangeFeed()
        self.feed.on_reset = self.cache.clear
        self.feed.on_change = self._forget
        self.changing: dict[str, float] = {}  # session -> feed read that must succeed first
        self.asked = 0  # how often identity was asked (the rest were leases)

    def _forget(self, session_id: str) -> None:
        self.cache.pop(session_id, None)

    def _remember(self, session_id: str, lent: Lent) -> None:
        self.cache[session_id] = lent
        self.cache.move_to_end(session_id)
        while len(self.cache) > self.max_entries:
            self.cache.popitem(last=False)

    def change_begins(self, session_id: str) -> None:
        """A request that may change the session is on its way: no lease until it is known."""
        self._forget(session_id)
        self.changing[session_id] = float("inf")

    def change_ends(self, session_id: str) -> None:
        """The request has been answered: leases again after the next successful feed read."""
        self._forget(session_id)
        self.changing[session_id] = self.feed.reads
        if len(self.changing) > self.max_entries:  # keep only the waits still pending
            synced = self.feed.synced
            self.changing = {key: wait for key, wait in self.changing.items() if wait >= synced}

    def leasable(self, session_id: str, lent: Lent, agent: str) -> bool:
        """Whether `lent` may be used without asking identity (see the module docstring)."""
        feed = self.feed
        waiting = self.changing.get(session_id)
        if waiting is not None:
            if feed.synced <= waiting:
                return False
            del self.changing[session_id]
        lease = lent.lease
        return (
            lent.agent == agent
            and feed.live()
            and lease.change_seq is not None
            and lease.change_seq >= feed.forgotten
            and feed.newest_change(session_id) <= lease.change_seq
            and lease.fingerprint == feed.fingerprint
            and lease.expires_at is not None
            and time.time() < lease.expires_at - EXPIRY_MARGIN
            and feed.clock() - lease.granted < MAX_LEASE_AGE
        )

    async def apply(
        self, peers: ServiceClient | None, principal: Principal, header: str | None
    ) -> Principal:
        """The principal with the session's level, or a refusal (403/400/503)."""
        if header is None:
            return principal
        session_id = header.strip()
        if not _SESSION_ID.fullmatch(session_id):
            raise BadRequest("X-Anxin-Call-Session is not a call-session id")
        lent = self.cache.get(session_id)
        if lent is None or not self.leasable(session_id, lent, principal.subject):
            if peers is None:
                raise DependencyUnavailable("identity is unavailable")
            lent = await self._resolve(peers, principal, session_id, lent)
            if lent is None:  # "unchanged" for an entry dropped meanwhile: ask in full
                lent = await self._resolve(peers, principal, session_id, None)
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
        cached: Lent | None,
    ) -> Lent | None:
        if cached is not None and cached.agent != principal.subject:
            cached = None
        self.asked += 1
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
            self._forget(session_id)
            reason = str(answer.get("reason"))
            raise Forbidden(
                REFUSALS.get(reason, REFUSALS["no_access"]),
                decision_id=str(answer.get("decision_id") or ""),
                call_session_status=reason if reason in ("expired", "closed") else None,
            )
        version = answer.get("version")
        if not isinstance(version, int):
            raise DependencyUnavailable("identity answered without a session version")
        lease = Lease.of(answer, self.feed.clock())
        if answer.get("reason") == "unchanged":
            current = self.cache.get(session_id)
            if current is None or current.version != version or current.agent != principal.subject:
                return None
            renewed = replace(current, lease=lease)
            self._remember(session_id, renewed)
            return renewed
        if answer.get("reason") != "ok":
            raise DependencyUnavailable("identity answered an unknown resolution")
        level = answer.get("assurance_level")
        if level not in ASSURANCE_LEVELS:
            raise DependencyUnavailable("identity answered an unknown assurance level")
        customer = answer.get("verified_customer")
        lent = Lent(
            principal.subject, version, str(level), str(customer) if customer else None, lease
        )
        self._remember(session_id, lent)
        return lent


def _epoch(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


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
