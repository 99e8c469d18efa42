"""A deployment's traffic: counted per version and minute by each predictor replica, written as
idempotent upserts, summed across replicas by the API, with percentiles from the histogram."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from models_registry import services
from models_registry.models import Deployment, DeploymentTraffic, ModelVersion
from models_registry.predictor.app import predictor as state
from models_registry.predictor.tally import MAX_UNWRITTEN_MINUTES, Tally, Writer
from models_registry.traffic import (
    BATCH_BOUNDS,
    BOUNDS_MS,
    N_BATCH_BUCKETS,
    N_BUCKETS,
    batch_bucket_of,
    bucket_of,
    quantile,
)
from tests.models_registry.predictor_client import client_for, refresh

NAME = "cancer"
URL = f"/api/v1/deployments/{NAME}/metrics/"


class Clock:
    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


# --- the histogram ---------------------------------------------------------------------------


def test_buckets_and_percentiles() -> None:
    assert [bucket_of(x) for x in (0.2, 1.0, 1.5, 1000.0, 1000.1, 9e9)] == [0, 0, 1, 9, 10, 10]
    assert quantile([0] * N_BUCKETS, 0.5) is None
    # 100 observations: 50 in (5, 10] ms, 40 in (10, 20], 10 in (200, 500]
    histogram = [0] * N_BUCKETS
    histogram[bucket_of(7)] = 50
    histogram[bucket_of(15)] = 40
    histogram[bucket_of(300)] = 10
    assert quantile(histogram, 0.50) == pytest.approx(10.0)  # the top of the first bucket
    assert quantile(histogram, 0.25) == pytest.approx(7.5)  # halfway through (5, 10]
    assert quantile(histogram, 0.70) == pytest.approx(15.0)  # halfway through (10, 20]
    assert quantile(histogram, 0.95) == pytest.approx(350.0)
    over = [0] * N_BUCKETS
    over[-1] = 3
    assert quantile(over, 0.99) == BOUNDS_MS[-1]  # the open bucket says "over its bound"


# --- the accumulator -------------------------------------------------------------------------


def test_the_tally_counts_per_version_and_minute_and_forgets_written_ended_minutes() -> None:
    clock = Clock(600 * 60 + 5)
    tally = Tally(clock)
    tally.record(1, 10, 200, 3, 0.004)
    tally.record(1, 10, 400, 0, 0.0005)
    tally.record(1, 11, 503, 0, 0.002)
    tally.record(1, 10, 500, 0, 2.0)

    pending = {(c.version_id, c.minute): c for c in tally.pending()}
    assert set(pending) == {(10, 600), (11, 600)}
    main = pending[(10, 600)]
    assert (main.requests, main.errors_4xx, main.errors_5xx, main.rows) == (3, 1, 1, 3)
    assert main.latency_ms_sum == pytest.approx(2004.5)
    assert main.histogram[bucket_of(4)] == 1
    assert main.histogram[0] == 1
    assert main.histogram[-1] == 1
    assert pending[(11, 600)].errors_5xx == 1

    # written, the minute is no longer pending, but kept while it lasts
    tally.written(list(pending.values()))
    assert tally.pending() == []
    assert len(tally) == 2
    # a request after a write makes the minute pending again, with the running totals
    tally.record(1, 10, 200, 1, 0.001)
    assert [(c.requests, c.rows) for c in tally.pending()] == [(4, 4)]

    # the next minute: the written minute of version 11 goes; version 10's (unwritten) stays
    clock.at += 60
    tally.written([])
    assert len(tally) == 1
    # a failed write keeps it; once written, it goes
    tally.written(tally.pending())
    assert len(tally) == 0


class _Stages:
    parse_s, queue_s, inference_s, serialise_s = 0.001, 0.002, 0.003, 0.0005


def test_the_tally_counts_model_calls_by_rows_and_answered_requests_by_stage() -> None:
    clock = Clock(600 * 60 + 5)
    tally = Tally(clock)
    for rows in (1, 1, 3, 256, 5000):
        tally.batch(1, 10, rows)
    tally.record(1, 10, 200, 3, 0.007, _Stages())
    tally.record(1, 10, 500, 0, 0.007)  # a failed request times no stage
    (count,) = tally.pending()
    assert count.batch_histogram[0] == 2
    assert count.batch_histogram[batch_bucket_of(3)] == 1 == count.batch_histogram[2]
    assert count.batch_histogram[BATCH_BOUNDS.index(256)] == 1
    assert count.batch_histogram[-1] == 1  # over the top bound
    assert len(count.batch_histogram) == N_BATCH_BUCKETS
    assert count.stage_ms_sums == pytest.approx((1.0, 2.0, 3.0, 0.5))

    # a model call alone (its request lands in the next minute) still makes the minute pending
    tally.written([count])
    assert tally.pending() == []
    tally.batch(1, 10, 2)
    assert [sum(c.batch_histogram) for c in tally.pending()] == [6]
    clock.at += 60
    tally.written([])
    assert len(tally) == 1  # not forgotten unwritten


def test_the_tally_stays_bounded_while_the_database_is_away() -> None:
    clock = Clock(0)
    tally = Tally(clock)
    for minute in range(MAX_UNWRITTEN_MINUTES + 30):
        clock.at = minute * 60.0
        tally.record(1, 1, 200, 1, 0.01)
        tally.written([])  # every write failed
    assert len(tally) <= MAX_UNWRITTEN_MINUTES + 2


def test_the_request_path_costs_about_a_microsecond() -> None:
    tally = Tally()
    n = 20_000
    began = time.perf_counter()
    for i in range(n):
        tally.record(1, 1 + i % 2, 200, 1, 0.003)
    per_call = (time.perf_counter() - began) / n
    assert per_call < 20e-6, f"{per_call * 1e6:.1f} µs per request"
    began = time.perf_counter()
    stages = _Stages()
    for i in range(n):
        tally.record(1, 1 + i % 2, 200, 1, 0.003, stages)
        tally.batch(1, 1 + i % 2, 1)
    per_call = (time.perf_counter() - began) / n
    assert per_call < 40e-6, f"{per_call * 1e6:.1f} µs per request and model call"


# --- writing and reading ---------------------------------------------------------------------


@pytest.fixture
def canaried(
    personas: dict[str, Any], register: Callable[..., ModelVersion]
) -> tuple[Deployment, ModelVersion, ModelVersion]:
    """'cancer' serving v1, with v2 as a canary."""
    v1, v2 = register(personas["owner"]), register(personas["owner"])
    deployment = services.deployment_create(owner=personas["owner"], model_version=v1, name=NAME)
    Deployment.objects.filter(pk=deployment.pk).update(canary_version=v2, canary_percent=20)
    return deployment, v1, v2


def _histogram(**counts: int) -> list[int]:
    """Counts by a latency in ms that falls in the bucket: _histogram(ms7=3) -> 3 in (5, 10]."""
    found = [0] * N_BUCKETS
    for key, count in counts.items():
        found[bucket_of(float(key[2:]))] += count
    return found


@pytest.mark.django_db
def test_writes_are_upserts_of_running_totals_and_a_retry_counts_nothing_twice(
    canaried: tuple[Deployment, ModelVersion, ModelVersion],
) -> None:
    deployment, v1, _ = canaried
    clock = Clock(datetime(2030, 1, 1, 12, 0, 30, tzinfo=UTC).timestamp())
    tally = Tally(clock)
    writer = Writer(tally, interval_s=1, retention_days=1, replica="host:1")
    tally.batch(deployment.pk, v1.pk, 2)
    tally.record(deployment.pk, v1.pk, 200, 2, 0.003, _Stages())
    assert writer.flush() == 1
    tally.record(deployment.pk, v1.pk, 400, 0, 0.001)
    counts = tally.pending()
    assert writer.flush() == 1
    services.deployment_traffic_save(replica="host:1", counts=counts)  # a retried write
    row = DeploymentTraffic.objects.get()
    assert (row.requests, row.errors_4xx, row.rows) == (2, 1, 2)
    assert row.minute == datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    assert row.replica == "host:1"
    assert sum(row.latency_histogram) == 2
    assert row.batch_histogram[batch_bucket_of(2)] == 1 == sum(row.batch_histogram)
    assert (row.parse_ms_sum, row.inference_ms_sum) == pytest.approx((1.0, 3.0))

    # a count for a deployment deleted meanwhile is dropped, the others are written
    tally.record(deployment.pk, v1.pk, 200, 1, 0.003)
    tally.record(deployment.pk + 1000, v1.pk, 200, 1, 0.003)
    assert writer.flush() == 1
    assert DeploymentTraffic.objects.get().requests == 3
    assert tally.pending() == []

    # rows past the retention go
    DeploymentTraffic.objects.update(minute=datetime.now(UTC) - timedelta(days=2))
    writer.expire()
    assert not DeploymentTraffic.objects.exists()


@pytest.mark.django_db
def test_the_api_sums_replicas_per_version_with_percentiles_and_hides_from_outsiders(
    canaried: tuple[Deployment, ModelVersion, ModelVersion],
    api_as: Any,
    share: Callable[..., Any],
) -> None:
    deployment, v1, v2 = canaried
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    for minute in range(3):  # minutes 0..2 from start, two replicas each, both versions
        for replica in ("a:1", "b:2"):
            DeploymentTraffic.objects.create(
                deployment=deployment,
                model_version=v1,
                minute=start + timedelta(minutes=minute),
                replica=replica,
                requests=10,
                errors_4xx=1,
                errors_5xx=minute,
                rows=20,
                latency_ms_sum=90.0,
                latency_histogram=_histogram(ms7=9, ms300=1),
                batch_histogram=[3, 1] + [0] * (N_BATCH_BUCKETS - 2),
                parse_ms_sum=8.0,
                queue_ms_sum=0.0,
                inference_ms_sum=40.0,
                serialise_ms_sum=4.0,
            )
        DeploymentTraffic.objects.create(
            deployment=deployment,
            model_version=v2,
            minute=start + timedelta(minutes=minute),
            replica="a:1",
            requests=2,
            rows=2,
            latency_ms_sum=30.0,
            latency_histogram=_histogram(ms15=2),
        )
    # an hour ago: outside the default range
    DeploymentTraffic.objects.create(
        deployment=deployment,
        model_version=v1,
        minute=start - timedelta(hours=1),
        replica="a:1",
        requests=1000,
    )

    owner = api_as("owner")
    answer = owner.get(URL)
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["deployment"], body["step"]) == (NAME, 60)
    main = [p for p in body["series"] if p["version"] == v1.pk]
    canary = [p for p in body["series"] if p["version"] == v2.pk]
    assert [p["requests"] for p in main] == [20, 20, 20]  # two replicas summed
    assert [p["errors_5xx"] for p in main] == [0, 2, 4]
    assert [p["version_number"] for p in canary] == [v2.version] * 3
    first = main[0]
    assert datetime.fromisoformat(first["t"]) == start
    assert (first["errors_4xx"], first["rows"], first["latency_ms_avg"]) == (2, 40, 9.0)
    # 18 of 20 in (5, 10] ms and 2 in (200, 500]: p50 within the first, p95 and p99 the second
    assert 5 < first["latency_ms_p50"] <= 10
    assert first["latency_ms_p95"] == pytest.approx(350.0)
    assert first["latency_ms_p99"] == pytest.approx(470.0)
    totals = body["totals"]
    assert (totals["requests"], totals["errors_4xx"], totals["errors_5xx"]) == (66, 6, 6)
    assert [(v["version"], v["requests"]) for v in totals["versions"]] == [
        (v1.pk, 60),
        (v2.pk, 6),
    ]
    assert totals["versions"][1]["latency_ms_p50"] == pytest.approx(15.0)
    # model calls by rows and time per stage: summed over replicas, per version and overall
    assert body["batch_rows_bounds"] == list(BATCH_BOUNDS)
    main_totals, canary_totals = totals["versions"]
    assert main_totals["batch_rows_histogram"][:3] == [18, 6, 0]
    assert main_totals["batches"] == totals["batches"] == 24
    assert canary_totals["batches"] == 0
    assert main_totals["stage_ms_sum"]["inference"] == pytest.approx(240.0)
    # per answered request: 60 requests less 6 + 6 errors
    assert main_totals["stage_ms_avg"]["inference"] == pytest.approx(240.0 / 48)
    assert main_totals["stage_ms_avg"]["queue"] == 0.0
    assert canary_totals["stage_ms_avg"]["parse"] == 0.0
    assert "batch_rows_histogram" not in body["series"][0]  # the series stays small

    # coarser steps: the three minutes fall in at most two 5-minute points per version
    coarse = owner.get(URL, {"step": 300}).json()
    assert sum(p["requests"] for p in coarse["series"] if p["version"] == v1.pk) == 60
    assert len(coarse["series"]) <= 4
    # an explicit range takes the old minute in
    since = (start - timedelta(hours=2)).isoformat()
    wide = owner.get(URL, {"since": since, "step": 3600}).json()
    assert wide["totals"]["requests"] == 1066

    # bad ranges: the one error format
    for query, field in (
        ({"since": start.isoformat(), "until": (start - timedelta(hours=1)).isoformat()}, "since"),
        ({"since": (start - timedelta(days=30)).isoformat()}, "step"),
        ({"step": 7}, "step"),
        ({"since": "yesterday"}, "since"),
    ):
        refused = owner.get(URL, query)
        assert refused.status_code == 400, (query, refused.content)
        assert refused.json()["code"] == "invalid"
        assert field in refused.json()["fields"]

    # who sees it: the owner, a workspace member of any role; not an outsider (a 404)
    assert api_as("teammate").get(URL).status_code == 404
    assert api_as("outsider").get(URL).status_code == 404
    assert api_as(None).get(URL).status_code in (401, 403)
    share(v1, "viewer")
    seen = api_as("teammate").get(URL, {"owner": "owner"})
    assert seen.status_code == 200
    assert seen.json()["totals"]["requests"] == 66
    assert api_as("outsider").get(URL).status_code == 404


# --- the real predictor ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_predictor_counts_requests_and_errors_and_its_writer_stores_them(
    personas: dict[str, Any],
    version: ModelVersion,
    api_as: Any,
    cancer_frame: pd.DataFrame,
) -> None:
    services.deployment_create(owner=personas["owner"], model_version=version, name=NAME)
    refresh()
    client = client_for(personas["owner"])
    rows = cancer_frame.drop(columns="diagnosis").iloc[:3].to_dict("records")
    writer = Writer(state.traffic, interval_s=0.1, retention_days=30)
    writer.start()
    try:
        codes = [client.post(f"/v1/deployments/{NAME}/predict", {"instances": rows}).status_code]
        codes += [
            client.post(f"/v1/deployments/{NAME}/predict", {"instances": [{"x": 1}]}).status_code,
            client.post(f"/v1/deployments/{NAME}/predict", "{not json").status_code,
        ]
        codes += [
            client.post(f"/v2/models/{NAME}/infer", _v2_body(rows[:1])).status_code
            for _ in range(3)
        ]
        # unknown deployments count nowhere
        unknown = client.post("/v1/deployments/nothing/predict", {"instances": rows})
        codes.append(unknown.status_code)
        assert codes == [200, 400, 400, 200, 200, 200, 404]

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            totals = api_as("owner").get(URL).json()["totals"]
            if totals["requests"] >= 6:
                break
            time.sleep(0.1)
    finally:
        writer.stop()
    assert (totals["requests"], totals["errors_4xx"], totals["errors_5xx"]) == (6, 2, 0)
    assert totals["rows"] == 3 + 3
    assert totals["latency_ms_avg"] > 0
    assert totals["latency_ms_p99"] is not None
    assert [v["version"] for v in totals["versions"]] == [version.pk]
    # four answered requests, one model call each (sent one at a time): 3 rows, then 1, 1, 1
    histogram = totals["batch_rows_histogram"]
    assert sum(histogram) == totals["batches"] == 4
    assert (histogram[0], histogram[batch_bucket_of(3)]) == (3, 1)
    assert all(ms > 0 for ms in totals["stage_ms_sum"].values()), totals["stage_ms_sum"]
    assert all(ms > 0 for ms in totals["versions"][0]["stage_ms_avg"].values())


def _v2_body(rows: list[dict[str, Any]]) -> dict[str, Any]:
    columns = list(rows[0])
    return {
        "inputs": [
            {
                "name": column,
                "shape": [len(rows)],
                "datatype": "FP64" if isinstance(rows[0][column], float) else "BYTES",
                "data": [row[column] for row in rows],
            }
            for column in columns
        ]
    }
