"""Trials per hour of one search with 1, 2 and 4 parallel trial runners.

    .venv/bin/python bench/scaleout.py [--runners 1,2,4] [--trials 8] [--epochs 6] [--rows 6000]

One random search over the tabular space on a generated table (scikit-learn's
make_classification: `--rows` rows, 20 features, 2 classes), with a fixed number of trials
and a fixed number of epochs each (early stopping's patience is longer than the epochs), the
same seed for every run, so each run trains the same trials. With N runners the search's owner
(this process) keeps the oracle and N-1 runner processes take tickets, as in a parallel job
(jobs.engine.pool); here the tickets, outcomes and weights go through a folder (claimed by an
atomic rename) instead of PostgreSQL rows and the storage backend, so that the figure is the
engine's, not the broker's. N=1 is the ordinary sequential search (tuner.search).

Each process's torch intra-op threads: max(1, cores // N), or `--threads-each`. Every
process first runs one tiny search (its first-fit costs kept out of the figures). The
runners start and prepare their data before the clock starts (a Celery worker is already
running when a job comes); their start-up is printed apart. Trials per hour: trials / (last
trial's end - first trial's start) * 3600. The last line is one JSON object with
`speedup_2`, `speedup_4` and `cores`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import jobs.engine  # noqa: E402,F401  (selects the Keras backend)
from jobs.engine.search import SearchConfig, run_search, serve_search_trials  # noqa: E402
from jobs.engine.tickets import Outcome, Ticket  # noqa: E402


def _frame(rows: int) -> pd.DataFrame:
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=rows, n_features=20, n_informative=10, class_sep=0.8, random_state=0
    )
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(x.shape[1])])
    frame["label"] = np.where(y == 1, "yes", "no")
    return frame


def _config(trials: int, epochs: int) -> SearchConfig:
    return SearchConfig(
        target="label",
        task_type="binary",
        max_trials=trials,
        max_epochs=epochs,
        seed=0,
        tuner="random",
        max_seconds=None,
        ensemble_size=1,
    )


def _threads(count: int) -> None:
    import torch

    torch.set_num_threads(count)


class FolderPool:
    """jobs.engine.pool.TrialPool on a folder: pending/, running/, done/, weights/."""

    def __init__(self, root: Path, size: int = 1) -> None:
        self.root = root
        self.size = size
        for part in ("pending", "running", "done", "collected", "weights"):
            (root / part).mkdir(parents=True, exist_ok=True)

    def _write(self, path: Path, data: dict[str, Any]) -> None:
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data))
        temporary.rename(path)

    def offer(self, ticket: Ticket) -> None:
        self._write(self.root / "pending" / f"{ticket.number:04d}.json", asdict(ticket))

    def claim(self) -> Ticket | None:
        for path in sorted((self.root / "pending").glob("*.json")):
            taken = self.root / "running" / path.name
            try:
                path.rename(taken)  # atomic: one process wins
            except FileNotFoundError:
                continue
            return Ticket(**json.loads(taken.read_text()))
        return None

    def complete(self, ticket: Ticket, outcome: Outcome, weights: Path | None) -> None:
        if weights is not None:
            shutil.copy(weights, self.root / "weights" / f"{ticket.number}.weights.h5")
        outcome.runner = str(os.getpid())
        record = {"ticket": asdict(ticket), "outcome": outcome.to_json()}
        self._write(self.root / "done" / f"{ticket.number:04d}.json", record)

    def closed(self) -> bool:
        return (self.root / "closed").exists()

    def finished(self) -> list[tuple[Ticket, Outcome]]:
        ended = []
        for path in sorted((self.root / "done").glob("*.json")):
            record = json.loads(path.read_text())
            path.rename(self.root / "collected" / path.name)
            ended.append((Ticket(**record["ticket"]), Outcome.from_json(record["outcome"])))
        return ended

    def withdraw(self) -> list[Ticket]:
        taken = []
        for path in sorted((self.root / "pending").glob("*.json")):
            try:
                taken.append(Ticket(**json.loads(path.read_text())))
                path.unlink()
            except FileNotFoundError:
                continue
        return taken

    def fetch_weights(self, ticket: Ticket, path: Path) -> bool:
        stored = self.root / "weights" / f"{ticket.number}.weights.h5"
        if not stored.exists():
            return False
        shutil.copy(stored, path)
        return True

    def close(self) -> None:
        (self.root / "closed").touch()


class Clock:
    """A reporter that keeps when the first trial started and the last one ended."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.last = 0.0
        self.ended: list[tuple[int, str]] = []

    def trial_started(self, number: int, hyperparameters: dict[str, Any]) -> None:
        self.first = self.first or time.monotonic()

    def epoch_end(self, number: int, epoch: int, metrics: dict[str, float]) -> None:
        pass

    def trial_finished(self, number: int, status: str, *_: Any, **__: Any) -> None:
        self.last = time.monotonic()
        self.ended.append((number, status))

    def cancelled(self) -> bool:
        return False


class ReadySource(FolderPool):
    """A runner's side: says it is ready (data prepared) the first time it asks for work."""

    def closed(self) -> bool:
        (self.root / f"ready-{os.getpid()}").touch()
        return super().closed()


def _warm_up() -> None:
    """One tiny search, so that no run pays the process's first-fit costs (torch's kernels,
    Keras's tracing) inside its measured trials."""
    with tempfile.TemporaryDirectory(prefix="warm-") as tmp:
        run_search(_frame(500), _config(1, 1), workdir=Path(tmp), reporter=Clock())


def serve(folder: Path, threads: int, trials: int, epochs: int, rows: int) -> None:
    _threads(threads)
    _warm_up()
    source = ReadySource(folder)
    workdir = Path(tempfile.mkdtemp(prefix="runner-"))
    serve_search_trials(
        _frame(rows), _config(trials, epochs), workdir=workdir, reporter=Clock(), source=source
    )


def one_search(
    runners: int, trials: int, epochs: int, rows: int, threads: int = 0
) -> dict[str, Any]:
    cores = os.cpu_count() or 1
    threads = threads or max(1, cores // runners)
    _threads(threads)
    with tempfile.TemporaryDirectory(prefix="scaleout-") as tmp:
        folder = Path(tmp) / "pool"
        pool = FolderPool(folder, size=runners)
        started = time.monotonic()
        argv = [sys.executable, __file__, "--serve", str(folder), "--threads", str(threads)]
        argv += ["--trials", str(trials), "--epochs", str(epochs), "--rows", str(rows)]
        procs = [subprocess.Popen(argv) for _ in range(runners - 1)]
        while len(list(folder.glob("ready-*"))) < runners - 1:
            assert all(p.poll() is None for p in procs), "a runner exited early"
            time.sleep(0.2)
        startup = time.monotonic() - started
        clock = Clock()
        run_search(
            _frame(rows),
            _config(trials, epochs),
            workdir=Path(tmp) / "owner",
            reporter=clock,
            pool=pool if runners > 1 else None,
        )
        for proc in procs:
            proc.wait(timeout=120)
        span = clock.last - (clock.first or clock.last)
        completed = sum(1 for _, status in clock.ended if status == "COMPLETED")
        return {
            "runners": runners,
            "threads_each": threads,
            "trials": completed,
            "seconds": round(span, 1),
            "trials_per_hour": round(completed / span * 3600, 1) if span else 0.0,
            "runner_startup_s": round(startup, 1),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runners", default="1,2,4")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--rows", type=int, default=6000)
    # 0: cores // runners; a fixed count to compare at the same threads per process.
    parser.add_argument("--threads-each", type=int, default=0)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.threads, args.trials, args.epochs, args.rows)
        return
    _warm_up()
    results = [
        one_search(int(n), args.trials, args.epochs, args.rows, args.threads_each)
        for n in args.runners.split(",")
    ]
    base = results[0]["trials_per_hour"] or 1.0
    print(f"{'runners':>8} {'threads':>8} {'trials':>7} {'seconds':>8} {'trials/h':>9} {'x':>6}")
    for row in results:
        speedup = row["trials_per_hour"] / base
        row["speedup"] = round(speedup, 2)
        print(
            f"{row['runners']:>8} {row['threads_each']:>8} {row['trials']:>7} "
            f"{row['seconds']:>8} {row['trials_per_hour']:>9} {speedup:>6.2f}"
        )
    by = {row["runners"]: row for row in results}
    summary = {
        "speedup_2": by.get(2, {}).get("speedup"),
        "speedup_4": by.get(4, {}).get("speedup"),
        "cores": os.cpu_count(),
        "results": results,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
