"""The Redis cache's connections, shared by the whole process.

Django makes a cache object for each thread, and its Redis client a connection pool for each
cache object. Django's ASGI handler (WEB_HANDLER=asgi) runs each request in a thread of its
own, so there every request opened a new pool and a new Redis connection for its throttle
check: about a tenth of the web's CPU during a burst of job submissions (redis-py also reads
its own package metadata for each new connection). With `pool_class` pointing here, each
process keeps one pool per server.

Django's client also makes a new `redis.Redis` object for every cache call, which fills a
table of about 80 reply parsers each time: two per API call for its throttle, about 0.5 ms of
the web's CPU on each job submission (a profile of 200). `RedisCache` here keeps one per
pool; redis-py's clients are safe to share between threads (each command borrows a
connection from the pool).
"""

from __future__ import annotations

import threading
from typing import Any

import redis
from django.core.cache.backends import redis as django_redis

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


class _SharedClients(django_redis.RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, redis.Redis] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = self._clients.get(id(pool))
        if client is None:  # two threads may both make one: either serves
            client = self._clients[id(pool)] = self._client(connection_pool=pool)  # type: ignore[attr-defined]
        return client


class RedisCache(django_redis.RedisCache):
    """Django's Redis cache with one client object per connection pool."""

    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _SharedClients
