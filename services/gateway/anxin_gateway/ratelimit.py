"""Per-client rate limiting: a token bucket per principal, answering 429."""

from __future__ import annotations

import math
import threading
import time

from anxin_shared.errors import RateLimited


class RateLimiter:
    """A token bucket per key: `burst` tokens, refilled at `rate` per second."""

    def __init__(self, rate: float, burst: int, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        """Take one token for `key`, or raise `RateLimited` with a retry delay."""
        now = time.monotonic()
        with self._lock:
            tokens, stamp = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - stamp) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                raise RateLimited(max(1, math.ceil((1.0 - tokens) / self.rate)))
            if len(self._buckets) >= self.max_keys and key not in self._buckets:
                self._buckets.clear()
            self._buckets[key] = (tokens - 1.0, now)
