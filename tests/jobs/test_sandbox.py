"""Reading in a limited child: a crash or a memory blow-up fails the read with a reason, and
the process that asked carries on."""

from __future__ import annotations

import ctypes
import os
import signal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.load_files import parquet_string_bomb
from jobs.engine.data import DataError
from jobs.engine.io.formats_parquet import parquet_batches
from jobs.services.sandbox import run_limited


def _progress_into(seen: list[float]) -> Any:
    return seen.append


def test_a_result_and_its_progress_come_back() -> None:
    seen: list[float] = []

    def work(report: Any) -> dict[str, Any]:
        report(0.5)
        report(1.0)
        return {"n_rows": 3, "pid": os.getpid()}

    result = run_limited(work, _progress_into(seen), memory_bytes=256 << 20, seconds=60)
    assert result["n_rows"] == 3
    assert result["pid"] != os.getpid()
    assert seen[:2] == [0.5, 1.0]


def test_a_refusal_keeps_its_reason() -> None:
    def work(report: Any) -> dict[str, Any]:
        raise DataError("Line 2 nests values too deep.")

    with pytest.raises(DataError, match="Line 2 nests"):
        run_limited(work, lambda f: None, memory_bytes=256 << 20, seconds=60)


def test_a_reader_that_needs_too_much_memory_fails_with_a_reason() -> None:
    def work(report: Any) -> dict[str, Any]:
        hog = bytearray(2 << 30)  # over the limit: MemoryError in the child
        return {"n": len(hog)}

    with pytest.raises(DataError, match="more than 256 MB of memory"):
        run_limited(work, lambda f: None, memory_bytes=256 << 20, seconds=60)


def test_a_reader_that_crashes_fails_with_a_reason_and_nothing_else() -> None:
    def work(report: Any) -> dict[str, Any]:
        ctypes.string_at(0)  # SIGSEGV, as a C reader's stack overflow would
        return {}

    with pytest.raises(DataError, match="SIGSEGV"):
        run_limited(work, lambda f: None, memory_bytes=256 << 20, seconds=60)
    # and this process is still here to say so
    assert os.getpid() > 0


def test_a_reader_that_runs_too_long_is_stopped() -> None:
    def work(report: Any) -> dict[str, Any]:
        signal.pause()
        return {}

    with pytest.raises(DataError, match="more than 2 s"):
        run_limited(work, lambda f: None, memory_bytes=256 << 20, seconds=2)


def test_arrow_running_out_of_memory_is_a_memory_limit_not_a_damaged_file(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrow's allocation failure is an ArrowException as well as a MemoryError: caught as the
    # former, a compressed-strings bomb that hit the child's limit (20 hostile uploads at
    # once, bench/load.py) was reported as "a damaged Parquet file: malloc ... failed".
    path = tmp_path / "strings.parquet"
    path.write_bytes(parquet_string_bomb())

    def no_memory(*args: Any, **kwargs: Any) -> Any:
        raise pa.ArrowMemoryError("malloc of size 65536 failed")

    def work(report: Any) -> dict[str, Any]:
        monkeypatch.setattr(pq, "ParquetFile", no_memory)
        return {"rows": sum(b.num_rows for b in parquet_batches(path, 65_536))}

    with pytest.raises(DataError, match="more than 64 MB of memory"):
        run_limited(work, lambda f: None, memory_bytes=64 << 20, seconds=60)
