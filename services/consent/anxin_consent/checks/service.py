"""The consent check, cached per replica with exact invalidation.

Every check first reads the change counter (`consent_epoch`, one row by key),
then the records. Every new record bumps the counter in its own transaction,
so a withdrawal committed by any replica changes the counter every replica
reads next: a cached answer is served only while the counter is unchanged and
the consent has not reached its expiry. Reading the counter before the records
means an answer is never cached under a counter newer than the data it saw.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session

from anxin_consent.checks.schemas import ConsentCheckRequest, ConsentCheckResult
from anxin_consent.notices.service import as_utc
from anxin_consent.records import repository
from anxin_consent.records.models import ConsentRecord
from anxin_consent.records.service import needs_separate_consent

Scope = tuple[str, str, str, str]


def utcnow() -> datetime:
    """The current time in UTC, timezone-aware."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Entry:
    result: ConsentCheckResult
    valid_until: datetime | None


class CheckCache:
    """Answers of one replica, valid for one value of the change counter."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self._epoch = -1
        self._entries: dict[Scope, _Entry] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, epoch: int, scope: Scope, now: datetime) -> ConsentCheckResult | None:
        """The cached answer if the counter has not moved and the answer has not expired."""
        with self._lock:
            if epoch < self._epoch:
                # A check that read the counter before a change another one has seen.
                self.misses += 1
                return None
            if epoch > self._epoch:
                self._epoch = epoch
                self._entries = {}
            entry = self._entries.get(scope)
            if entry is None or (entry.valid_until is not None and entry.valid_until <= now):
                self.misses += 1
                return None
            self.hits += 1
            return entry.result

    def put(
        self, epoch: int, scope: Scope, result: ConsentCheckResult, valid_until: datetime | None
    ) -> None:
        """Keep an answer computed from data read at counter value `epoch`."""
        with self._lock:
            if epoch != self._epoch:
                return
            if len(self._entries) >= self.max_entries:
                self._entries = {}
            self._entries[scope] = _Entry(result, valid_until)


def evaluate(
    latest: ConsentRecord | None, request: ConsentCheckRequest, now: datetime
) -> tuple[ConsentCheckResult, datetime | None]:
    """Allowed only by a live grant of exactly this scope; returns the answer and its expiry."""
    if latest is None:
        return ConsentCheckResult(
            allowed=False,
            consent_id=None,
            notice_key=None,
            notice_version=None,
            reason="no_consent",
        ), None
    expires_at = as_utc(latest.expires_at)
    reason = "granted"
    if latest.action == "withdraw":
        reason = "withdrawn"
    elif latest.action == "expire" or (expires_at is not None and expires_at <= now):
        reason = "expired"
    elif not latest.separate_consent and needs_separate_consent(
        request.category, request.recipient, latest.customer_subsidiary
    ):
        reason = "not_separate"
    allowed = reason == "granted"
    return ConsentCheckResult(
        allowed=allowed,
        consent_id=latest.record_id,
        notice_key=latest.notice_key,
        notice_version=latest.notice_version,
        reason=reason,
    ), (expires_at if allowed else None)


def check_many(
    session: Session, cache: CheckCache, requests: list[ConsentCheckRequest]
) -> list[ConsentCheckResult]:
    """Answer checks, from the cache while the change counter stands still."""
    epoch = repository.read_epoch(session)
    now = utcnow()
    results = []
    for request in requests:
        scope = (request.customer_id, request.purpose, request.category, request.recipient)
        cached = cache.get(epoch, scope, now)
        if cached is None:
            latest = repository.latest_for_scope(session, *scope)
            cached, valid_until = evaluate(latest, request, now)
            cache.put(epoch, scope, cached, valid_until)
        results.append(cached)
    return results
