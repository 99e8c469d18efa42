"""The latency histogram a deployment's traffic is counted in, and the percentiles read from it.

Plain Python, shared by the predictor (which counts) and the API (which sums replicas and
estimates percentiles). A fixed set of buckets, the same everywhere, is what lets several
replicas' histograms be added bucket by bucket.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

# Upper bounds in milliseconds; a last bucket takes everything above the top one.
BOUNDS_MS: tuple[float, ...] = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
N_BUCKETS = len(BOUNDS_MS) + 1
# Rows per model call (micro-batch), upper bounds; the predictor's Prometheus histogram's too.
BATCH_BOUNDS: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
N_BATCH_BUCKETS = len(BATCH_BOUNDS) + 1
# The phases an answered request's time is summed by (the Prometheus phases but the total).
STAGES = ("parse", "queue", "inference", "serialise")


@dataclass(frozen=True)
class MinuteCount:
    """One replica's running totals for one version of a deployment in one minute."""

    deployment_id: int
    version_id: int
    minute: int  # minutes since the epoch, UTC
    requests: int
    errors_4xx: int
    errors_5xx: int
    rows: int
    latency_ms_sum: float
    histogram: tuple[int, ...]
    # Model calls by rows (BATCH_BOUNDS), and answered requests' milliseconds per STAGES.
    batch_histogram: tuple[int, ...] = (0,) * N_BATCH_BUCKETS
    stage_ms_sums: tuple[float, ...] = (0.0,) * len(STAGES)

    @property
    def events(self) -> int:
        """Requests and model calls counted: grows with every change, so the writer can tell
        what it wrote (a batch can land in a minute its request does not)."""
        return self.requests + sum(self.batch_histogram)


def bucket_of(latency_ms: float) -> int:
    """The bucket a latency falls in: the first whose upper bound it does not pass."""
    return bisect_left(BOUNDS_MS, latency_ms)


def batch_bucket_of(rows: int) -> int:
    return bisect_left(BATCH_BOUNDS, rows)


def add_histograms(into: list[int], other: Sequence[int]) -> None:
    """Add `other` into `into`, bucket by bucket (a row written with another bucket count,
    which should not happen, adds what lines up)."""
    for i, count in enumerate(other[: len(into)]):
        into[i] += int(count)


def quantile(histogram: Sequence[int], q: float) -> float | None:
    """An estimate of the q-quantile (0..1) in milliseconds: linear within the bucket it falls
    in, the top bound for the open last bucket; None without observations."""
    total = sum(histogram)
    if total <= 0:
        return None
    target = q * total
    seen = 0
    for i, count in enumerate(histogram):
        if count and seen + count >= target:
            if i >= len(BOUNDS_MS):
                return float(BOUNDS_MS[-1])
            low = BOUNDS_MS[i - 1] if i else 0.0
            return low + (BOUNDS_MS[i] - low) * max(target - seen, 0.0) / count
        seen += count
    return float(BOUNDS_MS[-1])
