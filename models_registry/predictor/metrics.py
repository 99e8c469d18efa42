"""Per deployment and version: requests by status code, latency by phase, batch sizes.

Exported in Prometheus' text format at `/metrics`. The predictor's own registry, not the
process-wide default, so tests and several apps in one process do not collide.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from models_registry.traffic import BATCH_BOUNDS

registry = CollectorRegistry()
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
BATCH_BUCKETS = BATCH_BOUNDS  # the traffic rows' buckets, so both read alike
LABELS = ("deployment", "deployment_id", "version")

requests = Counter(
    "predictor_requests", "Prediction requests answered", [*LABELS, "code"], registry=registry
)
latency = Histogram(
    "predictor_request_seconds",
    "Time per prediction request by phase: parse, queue, inference, serialise, total",
    [*LABELS, "phase"],
    buckets=LATENCY_BUCKETS,
    registry=registry,
)
batch_rows = Histogram(
    "predictor_batch_rows",
    "Rows per model call (micro-batch size)",
    LABELS,
    buckets=BATCH_BUCKETS,
    registry=registry,
)

PHASES = ("parse", "queue", "inference", "serialise", "total")


class VersionMetrics:
    """The label children of one deployment's version, looked up once, not per request."""

    def __init__(self, deployment: str, deployment_id: int, version: int) -> None:
        labels = (deployment, str(deployment_id), str(version))
        self._labels = labels
        self.phase = {p: latency.labels(*labels, p) for p in PHASES}
        self.batch_rows = batch_rows.labels(*labels)
        self.on_batch: Callable[[int], None] = self.batch_rows.observe
        self._codes: dict[int, Any] = {}

    def count(self, code: int) -> None:
        child = self._codes.get(code)
        if child is None:
            child = self._codes[code] = requests.labels(*self._labels, str(code))
        child.inc()


def summary(deployment_id: int) -> dict[str, Any]:
    """One deployment's counters for its owner, per version: requests by code, mean latency
    per phase, and mean batch size."""
    versions: dict[str, dict[str, Any]] = {}
    wanted = str(deployment_id)
    for family in registry.collect():
        for sample in family.samples:
            if sample.labels.get("deployment_id") != wanted:
                continue
            entry = versions.setdefault(
                sample.labels["version"], {"requests": {}, "latency_seconds": {}}
            )
            if sample.name == "predictor_requests_total":
                entry["requests"][sample.labels["code"]] = int(sample.value)
            elif sample.name == "predictor_request_seconds_sum":
                entry.setdefault("_sum", {})[sample.labels["phase"]] = sample.value
            elif sample.name == "predictor_request_seconds_count":
                entry.setdefault("_count", {})[sample.labels["phase"]] = sample.value
            elif sample.name == "predictor_batch_rows_sum":
                entry["_rows"] = sample.value
            elif sample.name == "predictor_batch_rows_count":
                entry["batches"] = int(sample.value)
    for entry in versions.values():
        sums, counts = entry.pop("_sum", {}), entry.pop("_count", {})
        entry["latency_seconds"] = {
            phase: sums[phase] / counts[phase] for phase in sums if counts.get(phase)
        }
        rows = entry.pop("_rows", 0.0)
        entry["mean_batch_rows"] = rows / entry["batches"] if entry.get("batches") else None
    return versions
