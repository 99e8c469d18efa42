"""Per-key rate limits, shared by every predictor replica through Redis.

Each key with `rate_limit_per_minute` has one GCRA bucket (the generic cell rate algorithm,
a token bucket kept as a single timestamp, "the theoretical arrival time") in Redis, checked
and advanced by one Lua script: one round trip per limited request, atomic across replicas,
timed by Redis' own clock so that replicas' clocks need not agree. The bucket holds a
minute's allowance, so a key may burst up to its limit, then gets one request per
60/limit seconds. A key without a limit costs nothing: no round trip.

When Redis does not answer (an error, or no answer within REDIS_TIMEOUT_S), the replica
falls back to its own in-memory bucket for that key for FALLBACK_S, then tries Redis again.
That is neither fail-open nor fail-closed: during a Redis outage each replica still enforces
the limit on its own (a key gets at most replicas x limit), no paying caller is refused for
our infrastructure's failure, and a Redis that hangs costs one short timeout per
FALLBACK_S, not one per request. Without REDIS_URL (the embedded mode) only the in-memory
bucket counts, which is exact for its single predictor process.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
import weakref
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)
REDIS_TIMEOUT_S = 0.25
FALLBACK_S = 5.0
PREFIX = "predictor:rate:"

# KEYS[1]: the bucket; ARGV[1]: microseconds per request; ARGV[2]: the burst, in
# microseconds (a minute). Answers 0 when the request may go, else microseconds to wait.
GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local period = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local next_tat = tat + period
if next_tat - burst > now then
  return math.ceil(next_tat - burst - now)
end
local ttl_ms = math.ceil((next_tat - now) / 1000) + 1
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', ttl_ms)
return 0
"""
MINUTE_US = 60_000_000


def _seconds(wait_us: float) -> int:
    return max(1, math.ceil(wait_us / 1_000_000))


class RateLimiter:
    """A token bucket per key, in this process' memory: the fallback, and the embedded mode."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # bucket -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, bucket: str, per_minute: int | None) -> int:
        """0 when the request may go; else the seconds to wait (for `Retry-After`)."""
        if not per_minute:
            return 0
        rate = per_minute / 60.0
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.get(bucket, (float(per_minute), now))
            tokens = min(float(per_minute), tokens + (now - at) * rate)
            if tokens >= 1.0:
                self._buckets[bucket] = (tokens - 1.0, now)
                return 0
            self._buckets[bucket] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / rate))


class SharedRateLimiter:
    """The Redis bucket (above), falling back to `local` while Redis does not answer."""

    def __init__(self, url: str | None) -> None:
        self.url = url  # none: the in-memory bucket only
        self.local = RateLimiter()
        self._down_until = 0.0
        # redis.asyncio's connections belong to the event loop that made them: one client
        # per loop (a server has one; tests run several).
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )

    def _script(self) -> Any:
        assert self.url
        loop = asyncio.get_running_loop()
        script = self._clients.get(loop)
        if script is None:
            client = aioredis.Redis.from_url(
                self.url,
                socket_timeout=REDIS_TIMEOUT_S,
                socket_connect_timeout=REDIS_TIMEOUT_S,
            )
            script = client.register_script(GCRA)
            self._clients[loop] = script
        return script

    async def take(self, bucket: str, per_minute: int | None) -> int:
        if not per_minute:
            return 0
        if self.url and time.monotonic() >= self._down_until:
            try:
                args = [MINUTE_US / per_minute, MINUTE_US]
                call = self._script()(keys=[PREFIX + bucket], args=args)
                wait_us = await asyncio.wait_for(call, REDIS_TIMEOUT_S)
            except (RedisError, OSError, TimeoutError) as exc:
                logger.warning(
                    "Rate limits fall back to this replica's own count for %s s: %s",
                    FALLBACK_S,
                    exc,
                )
                self._down_until = time.monotonic() + FALLBACK_S
            else:
                return _seconds(float(wait_us)) if wait_us else 0
        return self.local.take(bucket, per_minute)
