"""The profile service's clock, injectable so that tests can move time (deadlines, expiry)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """The current time in UTC, optionally shifted by an offset (tests only)."""

    def __init__(self, offset: timedelta | None = None) -> None:
        self.offset = offset or timedelta(0)

    def now(self) -> datetime:
        """The current time, timezone-aware."""
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward (tests)."""
        self.offset += delta


def as_utc(moment: datetime) -> datetime:
    """A stored time as UTC; SQLite hands timezone-aware columns back naive."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
