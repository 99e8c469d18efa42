"""A search interrupted by a dying or stopping worker resumes from its saved tuner state."""

from __future__ import annotations

import io
import json
import tarfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from jobs.engine.search import SearchConfig, SearchInterrupted, run_search
from tests.conftest import RecordingReporter

CONFIG = SearchConfig(target="diagnosis", task_type="binary", max_trials=3, max_epochs=2)


class WorkerDied(BaseException):
    """Stands for kill -9: nothing in the engine may catch it."""


class StoredReporter(RecordingReporter):
    """A reporter that keeps the tuner state, as the job service does on shared storage."""

    def __init__(self, store: dict[str, bytes], die_at_trial: int | None = None) -> None:
        super().__init__()
        self.store = store
        self.die_at_trial = die_at_trial
        self.saves = 0
        self.hyperparameters: dict[int, dict[str, Any]] = {}

    def trial_started(self, number: int, hyperparameters: dict[str, Any]) -> None:
        super().trial_started(number, hyperparameters)
        self.hyperparameters[number] = hyperparameters
        if number == self.die_at_trial:
            raise WorkerDied

    def load_tuner_state(self) -> bytes | None:
        return self.store.get("state")

    def save_tuner_state(self, data: bytes) -> None:
        self.store["state"] = data
        self.saves += 1


def _finished(reporter: RecordingReporter) -> list[Any]:
    return [args for kind, args in reporter.calls if kind == "trial_finished"]


def _started(reporter: RecordingReporter) -> list[Any]:
    return [args for kind, args in reporter.calls if kind == "trial_started"]


def test_a_search_resumes_after_its_finished_trials(
    cancer_frame: pd.DataFrame, tmp_path: Path
) -> None:
    store: dict[str, bytes] = {}

    # given a first attempt whose worker dies as the third of three trials starts
    first = StoredReporter(store, die_at_trial=3)
    with pytest.raises(WorkerDied):
        run_search(cancer_frame, CONFIG, workdir=tmp_path / "first", reporter=first)
    assert _finished(first) == [(1, "COMPLETED"), (2, "COMPLETED")]
    assert first.saves == 2

    # when a second attempt, in a fresh folder, starts from the saved state
    second = StoredReporter(store)
    result = run_search(cancer_frame, CONFIG, workdir=tmp_path / "second", reporter=second)

    # then only the lost trial runs, under its own number and with the same values
    assert _started(second) == [3]
    assert _finished(second) == [(3, "COMPLETED")]
    assert second.hyperparameters[3] == first.hyperparameters[3]
    assert result.best_trial in (1, 2, 3)
    assert result.manifest["max_trials"] == 3
    assert 0.8 < result.test_metrics["accuracy"] <= 1.0
    # the three trials' models were there to rank and average
    assert result.ensemble["size"] == 3
    with tarfile.open(fileobj=io.BytesIO(store["state"])) as tar:
        trials = [
            json.load(tar.extractfile(m))  # type: ignore[arg-type]
            for m in tar.getmembers()
            if m.name.endswith("trial.json")
        ]
    assert sorted(t["status"] for t in trials) == ["COMPLETED"] * 3


def test_a_search_that_had_finished_resumes_without_training(
    cancer_frame: pd.DataFrame, tmp_path: Path
) -> None:
    # given the state of a search whose every trial finished (the worker died afterwards)
    store: dict[str, bytes] = {}
    config = SearchConfig(target="diagnosis", task_type="binary", max_trials=1, max_epochs=1)
    done = run_search(cancer_frame, config, workdir=tmp_path / "a", reporter=StoredReporter(store))

    # when it is picked up again, no trial runs and the same best trial comes out
    again = StoredReporter(store)
    result = run_search(cancer_frame, config, workdir=tmp_path / "b", reporter=again)
    assert again.calls == []
    assert (result.best_trial, result.hyperparameters) == (1, done.hyperparameters)


def test_an_unreadable_state_starts_the_search_again(
    cancer_frame: pd.DataFrame, tmp_path: Path
) -> None:
    store = {"state": b"not a tar"}
    config = SearchConfig(target="diagnosis", task_type="binary", max_trials=1, max_epochs=1)
    reporter = StoredReporter(store)
    result = run_search(cancer_frame, config, workdir=tmp_path, reporter=reporter)
    assert _finished(reporter) == [(1, "COMPLETED")]
    assert result.best_trial == 1
    assert store["state"] != b"not a tar"


class StoppingReporter(StoredReporter):
    """Its process is asked to stop (a worker's warm shutdown) once trial `stop_in` trains."""

    def __init__(self, store: dict[str, bytes], stop_in: int) -> None:
        super().__init__(store)
        self.stop_in = stop_in
        self.stopping = False

    def trial_started(self, number: int, hyperparameters: dict[str, Any]) -> None:
        super().trial_started(number, hyperparameters)
        if number == self.stop_in:
            self.stopping = True
            # Past the guard's once-a-second pace: it asks at this trial's first batch.
            time.sleep(1.05)

    def cancelled(self) -> bool:
        if self.stopping:
            raise SearchInterrupted("The worker is shutting down.")
        return False


def test_a_search_interrupted_mid_trial_gives_that_trial_up_and_resumes_it(
    cancer_frame: pd.DataFrame, tmp_path: Path
) -> None:
    store: dict[str, bytes] = {}
    config = SearchConfig(target="diagnosis", task_type="binary", max_trials=2, max_epochs=2)

    # given a first attempt whose process is stopping while its second trial trains
    first = StoppingReporter(store, stop_in=2)
    with pytest.raises(SearchInterrupted):
        run_search(cancer_frame, config, workdir=tmp_path / "first", reporter=first)

    # then that trial is neither reported nor saved as finished (no failed trial either)
    assert _finished(first) == [(1, "COMPLETED")]
    assert not [args for kind, args in first.calls if kind == "epoch_end" and args[0] == 2]
    assert first.saves == 1

    # when the next attempt resumes, it runs the given-up trial again, and only that one
    second = StoredReporter(store)
    run_search(cancer_frame, config, workdir=tmp_path / "second", reporter=second)
    assert _started(second) == [2]
    assert _finished(second) == [(2, "COMPLETED")]
    assert second.hyperparameters[2] == first.hyperparameters[2]
