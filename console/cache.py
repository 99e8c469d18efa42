"""The Redis cache's connections, shared by the whole process.

Django makes a cache object for each thread, and its Redis client a connection pool for each
cache object. Django's ASGI handler (WEB_HANDLER=asgi) runs each request in a thread of its
own, so there every request opened a new pool and a new Redis connection for its throttle
check: about a tenth of the web's CPU during a burst of job submissions (redis-py also reads
its own package metadata for each new connection). With `pool_class` pointing here, each
process keeps one pool per server.
"""

from __future__ import annotations

import threading
from typing import Any

import redis

_lock = threading.Lock()


class SharedConnectionPool(redis.ConnectionPool):
    """`from_url` hands out one pool per URL and options for the process; redis-py's pool
    already gives a forked child connections of its own."""

    _pools: dict[tuple[str, str], redis.ConnectionPool] = {}

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> Any:
        key = (url, repr(sorted(kwargs.items())))
        with _lock:
            pool = cls._pools.get(key)
            if pool is None:
                pool = cls._pools[key] = super().from_url(url, **kwargs)
            return pool
