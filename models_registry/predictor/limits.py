"""Per-key rate limits: a token bucket per API key, in each replica's memory."""

from __future__ import annotations

import math
import threading
import time


class RateLimiter:
    def __init__(self) -> None:
        self._buckets: dict[int, tuple[float, float]] = {}  # key id -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key_id: int, per_minute: int | None) -> int:
        """0 when the request may go; else the seconds to wait (for `Retry-After`).

        The bucket holds a minute's allowance, so a key may burst up to its limit."""
        if not per_minute:
            return 0
        rate = per_minute / 60.0
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.get(key_id, (float(per_minute), now))
            tokens = min(float(per_minute), tokens + (now - at) * rate)
            if tokens >= 1.0:
                self._buckets[key_id] = (tokens - 1.0, now)
                return 0
            self._buckets[key_id] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / rate))
