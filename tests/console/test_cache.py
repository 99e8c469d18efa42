"""The web's Redis cache (console/cache.py): one connection pool and one client object per
process, whatever the thread or the call."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from django.conf import settings

from console.cache import RedisCache


def _cache() -> Any:  # Django's private `_cache` is its client
    return RedisCache(
        settings.REDIS_URL,
        {
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
            "OPTIONS": {"pool_class": "console.cache.SharedConnectionPool"},
        },
    )


def test_every_call_and_thread_uses_one_client_and_the_values_round_trip() -> None:
    cache = _cache()
    client = cache._cache.get_client(write=True)
    seen = []

    def work(n: int) -> None:
        cache.set(f"k{n}", {"n": n}, 30)
        seen.append((cache.get(f"k{n}"), cache._cache.get_client()))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(value["n"] for value, _ in seen) == [0, 1, 2, 3]
    assert all(used is client for _, used in seen)
    # and a second cache object on the same server shares the process's pool
    assert _cache()._cache.get_client().connection_pool is client.connection_pool
    cache.delete_many([f"k{n}" for n in range(4)])
