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


def bucket_of(latency_ms: float) -> int:
    """The bucket a latency falls in: the first whose upper bound it does not pass."""
    return bisect_left(BOUNDS_MS, latency_ms)


def add_histograms(into: list[int], other: Sequence[int]) -> None:
    """Add `other` into `into`, bucket by bucket (a row written with another bucket count,
    which should not happen, adds what lines up)."""
    for i, count in enumerate(other[:N_BUCKETS]):
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
