"""A key's rate limit holds across predictor replicas: the count is in Redis, one round trip
per limited request, none for a key without a limit; a Redis that does not answer leaves
each replica counting on its own rather than refusing or opening everything."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
import redis
from django.conf import settings

from models_registry import services
from models_registry.models import Deployment
from models_registry.predictor import limits
from models_registry.predictor.app import predictor as state
from models_registry.predictor.directory import read_snapshot
from models_registry.predictor.limits import SharedRateLimiter
from tests.models_registry.predictor_client import PredictorClient
from tests.stack import free_port

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not settings.REDIS_URL, reason="the shared count needs Redis"),
]
URL = "/v1/deployments/cancer/predict"


@pytest.fixture
def replicas() -> Iterator[list[SharedRateLimiter]]:
    """Two replicas' limiters (each a process' own memory), sharing the test's Redis; the
    app's limiter is put back after."""
    kept = state.limiter
    yield [SharedRateLimiter(settings.REDIS_URL), SharedRateLimiter(settings.REDIS_URL)]
    state.limiter = kept


def _body(frame: pd.DataFrame) -> dict[str, Any]:
    return {"instances": frame.drop(columns="diagnosis").iloc[:1].to_dict("records")}


def _buckets() -> list[bytes]:
    return list(redis.Redis.from_url(settings.REDIS_URL).scan_iter(limits.PREFIX + "*"))


def test_the_limit_is_global_across_replicas(
    deployed: Deployment, replicas: list[SharedRateLimiter], cancer_frame: pd.DataFrame
) -> None:
    _, limited_key = services.deployment_key_create(deployment=deployed, rate_limit_per_minute=3)
    _, free_key = services.deployment_key_create(deployment=deployed)
    state.snapshot = read_snapshot()
    limited, free = PredictorClient(limited_key, "Bearer"), PredictorClient(free_key, "Bearer")
    body = _body(cancer_frame)
    a, b = replicas

    # the app on replica A answers two of the three, replica B the third...
    state.limiter = a
    assert [limited.post(URL, body).status_code for _ in range(2)] == [200, 200]
    state.limiter = b
    assert limited.post(URL, body).status_code == 200
    # ...then both refuse, though each saw fewer than three
    for replica in (b, a):
        state.limiter = replica
        refused = limited.post(URL, body)
        assert refused.status_code == 429, refused.content
        # a minute's allowance of 3: the next one frees up in 20 s
        assert 1 <= int(refused.headers["Retry-After"]) <= 20
        assert "rate limit" in refused.json()["detail"]
    # neither replica's own memory counted anything: the count is Redis'
    assert a.local._buckets == {}
    assert b.local._buckets == {}

    # a key without a limit goes through without a round trip (no bucket is written)
    before = _buckets()
    assert [free.post(URL, body).status_code for _ in range(5)] == [200] * 5
    assert _buckets() == before


def test_a_bucket_refills_at_the_keys_rate(replicas: list[SharedRateLimiter]) -> None:
    a, b = replicas
    bucket = f"test-refill-{time.monotonic_ns()}"

    async def go() -> list[int]:
        # 60 a minute: a burst of 60, then one a second
        waits = [await (a if i % 2 else b).take(bucket, 60) for i in range(61)]
        await asyncio.sleep(1.05)
        return [*waits, await a.take(bucket, 60)]

    waits = asyncio.run(go())
    assert waits[:60] == [0] * 60
    assert waits[60] == 1  # refused; Retry-After is whole seconds
    assert waits[61] == 0  # refilled


def test_without_redis_each_replica_counts_on_its_own_for_a_while() -> None:
    down = SharedRateLimiter(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    bucket = "test-down"

    async def go() -> list[int]:
        return [await down.take(bucket, 2) for _ in range(3)]

    started = time.monotonic()
    # neither open (the third is refused) nor closed (the first two go)
    first = asyncio.run(go())
    assert first[:2] == [0, 0]
    assert 29 <= first[2] <= 30
    assert all(wait >= 29 for wait in asyncio.run(go()))
    # one failed attempt, then Redis is left alone for FALLBACK_S: no timeout per request
    assert down._down_until > time.monotonic()
    assert time.monotonic() - started < 2 * limits.REDIS_TIMEOUT_S + 0.5
