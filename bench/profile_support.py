"""Support for the profiler benchmark: a realistic mixed CSV, and timing against pyarrow.

The acceptance bar: profiling a CSV takes at most twice as long as `pyarrow.csv.read_csv`
reading the same file in the same run, with the profiler's peak RSS under 2 GB.

    python bench/profile_support.py /tmp/profile-1g.csv 1000000000
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

_CHUNK_ROWS = 500_000
_COLOURS = [
    "red", "green", "blue", "yellow", "black", "white", "orange", "purple", "pink", "brown",
    "grey", "cyan", "magenta", "olive", "navy", "teal", "maroon", "lime", "coral", "gold",
]  # fmt: skip
_WORDS = (
    "good bad fast slow cheap broken great item works fine never again would buy late early "
    "box size colour quality price support refund happy sad okay love hate arrived product "
    "small large battery screen sound light heavy strong weak nice poor delivery service"
).split()


def _chunk(rng: np.random.Generator, start: int, n: int, clock: int) -> pa.Table:
    def with_missing(values: np.ndarray, share: float) -> pa.Array:
        return pa.array(values, mask=rng.random(n) < share)

    words = pa.array(_WORDS)
    n_words = rng.integers(2, 7, n)
    # Absent words are nulls, which binary_join_element_wise skips: 2 to 6 words a row.
    parts = [
        pa.array(words.take(pa.array(rng.integers(0, len(_WORDS), n))), mask=n_words <= k)
        for k in range(6)
    ]
    text = pc.binary_join_element_wise(*parts, " ", null_handling="skip")
    user = pc.binary_join_element_wise(
        "user", pc.cast(pa.array(rng.zipf(1.3, n) % 50_000), pa.string()), "_"
    )
    score = rng.normal(0, 1, n)
    # The label leans on score, and is rare: a realistic imbalanced target.
    label = np.where(score + rng.normal(0, 1, n) > 2.2, "churned", "stayed")
    # Mostly one-minute steps, sometimes an hour: a sorted series with gaps.
    steps = np.where(rng.random(n) < 0.001, 3600, 60)
    seconds = clock + np.cumsum(steps)
    return pa.table(
        {
            "id": pa.array(np.arange(start, start + n)),
            "score": with_missing(np.round(score, 4), 0.05),
            "income": with_missing(np.round(rng.lognormal(10, 0.7, n), 2), 0.2),
            "ratio": with_missing(np.round(rng.random(n), 3), 0.6),
            "age": with_missing(rng.integers(18, 90, n), 0.02),
            "visits": pa.array(rng.poisson(3, n)),
            "colour": pa.array(np.array(_COLOURS)[rng.integers(0, len(_COLOURS), n)]),
            "user": user,
            "comment": text,
            "member": pa.array(rng.random(n) < 0.3),
            "seen_at": pa.array(seconds.astype("datetime64[s]")),
            "label": pa.array(label),
        }
    )


def generate_csv(path: Path, target_bytes: int, seed: int = 0) -> int:
    """Write a mixed CSV of about target_bytes to path; return its number of rows."""
    rng = np.random.default_rng(seed)
    rows, clock = 0, 1_700_000_000
    with pa.OSFile(str(path), "wb") as sink:
        writer = None
        while sink.tell() < target_bytes:
            # Size the last chunk from the bytes per row written so far.
            n = _CHUNK_ROWS
            if rows:
                per_row = sink.tell() / rows
                n = max(1, min(n, int((target_bytes - sink.tell()) / per_row) + 1))
            table = _chunk(rng, rows, n, clock)
            clock = table.column("seen_at")[-1].value
            if writer is None:
                writer = pacsv.CSVWriter(sink, table.schema)
            writer.write_table(table)
            rows += n
        if writer is not None:
            writer.close()
    return rows


def _vm_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _profile_in_this_process(path: str, queue: Any) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from jobs.engine.profile import profile_batches

    started = time.perf_counter()
    reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=16 << 20))
    profile = profile_batches(reader, total_bytes=os.path.getsize(path))
    elapsed = time.perf_counter() - started
    queue.put({"profile_s": elapsed, "peak_rss_mb": _vm_hwm_mb(), "rows": profile["n_rows"]})


def measure_profile(path: Path) -> dict[str, Any]:
    """Time read_csv here, then the profiler in a fresh process (so its peak RSS is its own)."""
    started = time.perf_counter()
    table = pacsv.read_csv(str(path))
    read_csv_s = time.perf_counter() - started
    del table
    gc.collect()
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_profile_in_this_process, args=(str(path), queue))
    process.start()
    result = queue.get()
    process.join()
    return {
        "read_csv_s": round(read_csv_s, 3),
        "profile_s": round(result["profile_s"], 3),
        "profile_vs_pyarrow": round(result["profile_s"] / read_csv_s, 3),
        "profile_peak_rss_mb": round(result["peak_rss_mb"], 1),
        "rows": result["rows"],
    }


if __name__ == "__main__":
    target = Path(sys.argv[1])
    size = int(float(sys.argv[2])) if len(sys.argv) > 2 else 200_000_000
    if not target.exists() or abs(target.stat().st_size - size) > size // 10:
        t0 = time.perf_counter()
        n_rows = generate_csv(target, size)
        print(f"generated {n_rows} rows in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    print(json.dumps(measure_profile(target)))
