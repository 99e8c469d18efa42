"""Support for the profiler benchmark: a realistic mixed CSV, and timing against pyarrow.

The acceptance bar: profiling a CSV takes at most twice as long as `pyarrow.csv.read_csv`
reading the same file in the same run, with the profiler's peak RSS under 2 GB.

    python bench/profile_support.py /tmp/profile-1g.csv 1e9 [--shuffled]
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
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
_WORDS = [
    "good", "bad", "fast", "slow", "cheap", "broken", "great", "item", "works", "fine", "never",
    "again", "would", "buy", "late", "early", "box", "size", "colour", "quality", "price",
    "support", "refund", "happy", "sad", "okay", "love", "hate", "arrived", "product", "small",
    "large", "battery", "screen", "sound", "light", "heavy", "strong", "weak", "nice", "poor",
    "delivery", "service",
]  # fmt: skip


def _chunk(rng: np.random.Generator, start: int, n: int, clock: int, ordered: bool) -> pa.Table:
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
    ids = np.arange(start, start + n)
    if not ordered:
        # Nothing then proves the rows distinct: the profiler must sort its row hashes.
        ids, seconds = rng.permutation(ids), rng.permutation(seconds)
    return pa.table(
        {
            "id": pa.array(ids),
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


def generate_csv(path: Path, target_bytes: int, seed: int = 0, *, ordered: bool = True) -> int:
    """Write a mixed CSV of about target_bytes to path; return its number of rows.

    ordered=False shuffles the id and timestamp columns within each chunk of rows.
    """
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
            table = _chunk(rng, rows, n, clock, ordered)
            clock = pc.max(table.column("seen_at")).value
            if writer is None:
                writer = pacsv.CSVWriter(sink, table.schema)
            writer.write_table(table)
            rows += n
        if writer is not None:
            writer.close()
    return rows


# Run by a fresh interpreter, so that its peak RSS is the profiler's alone.
_CHILD = """
import json, os, sys, time
from pathlib import Path
import pyarrow.csv as pacsv
sys.path.insert(0, sys.argv[2])
from jobs.engine.io.profile import profile_batches
path = sys.argv[1]
started = time.perf_counter()
reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=16 << 20))
profile = profile_batches(reader, total_bytes=os.path.getsize(path))
elapsed = time.perf_counter() - started
status = Path("/proc/self/status").read_text().splitlines()
peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
print(json.dumps({"profile_s": elapsed, "peak_rss_mb": peak, "rows": profile["n_rows"]}))
"""


def measure_profile(path: Path) -> dict[str, Any]:
    """Time read_csv here, then the profiler in a fresh process (so its peak RSS is its own)."""
    # Both timings start from the page cache; the first reader would otherwise pay the disk.
    with path.open("rb") as warm:
        while warm.read(64 << 20):
            pass
    started = time.perf_counter()
    table = pacsv.read_csv(str(path))
    read_csv_s = time.perf_counter() - started
    del table
    gc.collect()
    root = str(Path(__file__).resolve().parent.parent)
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), root], capture_output=True, text=True, check=True
    )
    result = json.loads(child.stdout.strip().splitlines()[-1])
    return {
        "read_csv_s": round(read_csv_s, 3),
        "profile_s": round(result["profile_s"], 3),
        "profile_vs_pyarrow": round(result["profile_s"] / read_csv_s, 3),
        "profile_peak_rss_mb": round(result["peak_rss_mb"], 1),
        "rows": result["rows"],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="the CSV; generated when absent (keep it in /tmp)")
    parser.add_argument("size", type=float, nargs="?", default=200e6, help="bytes to generate")
    parser.add_argument("--shuffled", action="store_true", help="generate with shuffled ids")
    args = parser.parse_args()
    if not args.path.exists():
        t0 = time.perf_counter()
        n_rows = generate_csv(args.path, int(args.size), ordered=not args.shuffled)
        print(f"generated {n_rows} rows in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    print(json.dumps(measure_profile(args.path)))
