"""Quiet hours: a local daily window ("21:00-08:00", may cross midnight) when no campaign sends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class QuietHours:
    """A daily window in a timezone; `start == end` means no quiet hours."""

    start: time
    end: time
    zone: ZoneInfo

    @classmethod
    def parse(cls, window: str, timezone: str) -> QuietHours:
        """From settings: "HH:MM-HH:MM" and an IANA timezone name."""
        start, end = window.split("-")
        return cls(time.fromisoformat(start), time.fromisoformat(end), ZoneInfo(timezone))

    def contains(self, moment: datetime) -> bool:
        """Whether `moment` falls inside the window."""
        local = moment.astimezone(self.zone).time()
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def release(self, moment: datetime) -> datetime:
        """`moment` if outside the window, else when the window ends (UTC)."""
        if not self.contains(moment):
            return moment
        local = moment.astimezone(self.zone)
        end = datetime.combine(local.date(), self.end, tzinfo=self.zone)
        if end <= local:
            end += timedelta(days=1)
        return end.astimezone(UTC)
