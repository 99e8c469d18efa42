"""Wall-clock budgets, cancellation, tuner choice, class weights and the manifest."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from jobs.engine.search import SearchConfig, SearchStopped, run_search
from tests.conftest import RecordingReporter


def _epochs(reporter: RecordingReporter) -> list[tuple[int, int]]:
    return [value[:2] for kind, value in reporter.calls if kind == "epoch_end"]


def test_a_time_limit_stops_at_an_epoch_boundary_and_keeps_the_best_so_far(
    cancer_frame: pd.DataFrame, tmp_path: Path
) -> None:
    # given a search that would take far longer than its limit
    reporter = RecordingReporter()
    config = SearchConfig(
        target="diagnosis", task_type="binary", max_trials=50, max_epochs=200, max_seconds=3.0
    )

    # when it runs
    started = time.monotonic()
    result = run_search(cancer_frame, config, workdir=tmp_path, reporter=reporter)
    elapsed = time.monotonic() - started

    # then it stops soon after the limit, with a model evaluated on the test split
    longest_epoch = 1.0  # generous for one epoch of 341 rows on 2 cores
    assert elapsed < 3.0 + longest_epoch + 5.0  # + the final load and evaluation
    assert result.stopped == "time_limit"
    assert result.test_metrics["accuracy"] > 0.5
    assert len(_epochs(reporter)) < 50 * 200


def test_cancelling_stops_the_search(cancer_frame: pd.DataFrame, tmp_path: Path) -> None:
    reporter = RecordingReporter(cancel_after=6)
    config = SearchConfig(target="diagnosis", task_type="binary", max_trials=20, max_epochs=50)
    result = run_search(cancer_frame, config, workdir=tmp_path, reporter=reporter)
    assert result.stopped == "cancelled"
    assert len([c for c in reporter.calls if c[0] == "trial_started"]) <= 2


def test_a_cancel_before_any_epoch_leaves_no_model(
    cancer_frame: pd.DataFrame, tmp_path: Path
) -> None:
    reporter = RecordingReporter(cancel_after=0)
    config = SearchConfig(target="diagnosis", task_type="binary", max_trials=3, max_epochs=50)
    with pytest.raises(SearchStopped, match="cancelled"):
        run_search(cancer_frame, config, workdir=tmp_path, reporter=reporter)


@pytest.mark.parametrize("tuner", ["bayesian", "hyperband"])
def test_each_tuner_runs_within_the_trial_cap(
    cancer_frame: pd.DataFrame, tmp_path: Path, tuner: str
) -> None:
    reporter = RecordingReporter()
    config = SearchConfig(
        target="diagnosis", task_type="binary", max_trials=3, max_epochs=3, tuner=tuner
    )
    result = run_search(cancer_frame, config, workdir=tmp_path, reporter=reporter)
    started = [c for c in reporter.calls if c[0] == "trial_started"]
    assert 1 <= len(started) <= 3
    assert result.manifest["tuner"] == tuner
    assert result.test_metrics["accuracy"] > 0.5


def test_class_weights_turn_on_for_imbalanced_targets(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    frame["y"] = np.where(x[:, 0] > 1.8, "rare", "common")  # about 4% rare
    config = SearchConfig(target="y", task_type="binary", max_trials=1, max_epochs=2)
    result = run_search(frame, config, workdir=tmp_path, reporter=RecordingReporter())
    assert result.class_weights is not None
    assert result.class_weights[1] > 10 * result.class_weights[0]  # "rare" sorts after "common"
    # 11% rare: a plain model still learns the class, and keeps its accuracy and probabilities.
    uneven = frame.assign(y=np.where(x[:, 0] > 1.2, "rare", "common"))
    result = run_search(uneven, config, workdir=tmp_path, reporter=RecordingReporter())
    assert result.class_weights is None
    balanced = frame.assign(y=np.where(x[:, 0] > 0, "p", "n"))
    result = run_search(balanced, config, workdir=tmp_path, reporter=RecordingReporter())
    assert result.class_weights is None


def test_the_manifest_pins_what_a_rerun_needs(searched: tuple[object, ...]) -> None:
    result = searched[0]
    manifest = result.manifest  # type: ignore[attr-defined]
    assert manifest["seed"] == 0
    assert len(manifest["split"]["indices_sha256"]) == 64
    assert manifest["backend"] == "torch"
    assert {"keras", "keras_tuner", "torch", "python"} <= set(manifest["versions"])
    names = {p["config"]["name"] for p in manifest["search_space"]["space"]}
    assert {"layers", "units", "learning_rate", "numeric_encoding", "architecture"} <= names
    assert manifest["hardware"]["cpus"] >= 1


def test_a_trial_that_runs_out_of_memory_is_recorded_and_the_search_goes_on(
    cancer_frame: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a device that runs out of memory for the first model built (the one true
    # boundary faked here: a real out-of-memory needs a full accelerator)
    from jobs.engine import tasks
    from jobs.engine.tasks import tabular

    real = tabular.TASK.hypermodel
    built = {"n": 0}

    def hypermodel(*args: Any, **kwargs: Any) -> Any:
        space = real(*args, **kwargs)
        build = space.build

        def flaky(hp: object) -> object:
            built["n"] += 1
            if built["n"] == 2:  # the first build only discovers the search space
                raise MemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
            return build(hp)

        space.build = flaky
        return space

    flaky_task = dataclasses.replace(tabular.TASK, hypermodel=hypermodel)
    registered = tuple(flaky_task if t is tabular.TASK else t for t in tasks.TASKS)
    monkeypatch.setattr(tasks, "TASKS", registered)
    reporter = RecordingReporter()
    config = SearchConfig(target="diagnosis", task_type="binary", max_trials=3, max_epochs=2)

    # when the search runs
    result = run_search(cancer_frame, config, workdir=tmp_path, reporter=reporter)

    # then the first trial is FAILED with the reason, and later trials produced the model
    finished = [value for kind, value in reporter.calls if kind == "trial_finished"]
    assert finished[0] == (1, "FAILED")
    assert "out of memory" in reporter.errors[0]
    assert (2, "COMPLETED") in finished
    assert result.best_trial != 1


def test_a_rerun_with_the_same_manifest_gives_the_same_trials(
    cancer_frame: pd.DataFrame, tmp_path: Path
) -> None:
    # A job's seed is drawn at random and kept in its manifest: the rerun passes it back.
    config = SearchConfig(
        target="diagnosis", task_type="binary", max_trials=2, max_epochs=2, seed=2_024_121
    )

    def trials(workdir: Path) -> tuple[RecordingReporter, dict[str, Any]]:
        reporter = RecordingReporter()
        result = run_search(cancer_frame, config, workdir=workdir, reporter=reporter)
        return reporter, result.manifest

    first, manifest = trials(tmp_path / "first")
    again, manifest_again = trials(tmp_path / "again")
    assert manifest_again["split"] == manifest["split"]
    assert manifest_again["search_space"] == manifest["search_space"]
    # the same hyperparameters, in the same order, reaching the same validation loss
    assert len(first.finished) == 2
    assert [t[3] for t in again.finished] == [t[3] for t in first.finished]
    for a, b in zip(again.finished, first.finished, strict=True):
        assert a[2] == pytest.approx(b[2], rel=1e-5)


def test_bayesian_optimisation_starts_modelling_within_a_console_budget(tmp_path: Path) -> None:
    import keras

    from jobs.engine.guard import Guard
    from jobs.engine.tuning import make_tuner

    def build(hp: Any) -> keras.Model:
        inputs = keras.Input((2,))
        outputs = keras.layers.Dense(hp.Int("units", 1, 4))(inputs)
        model = keras.Model(inputs, outputs)
        model.compile("adam", "mse")
        return model

    reporter = RecordingReporter()
    config = SearchConfig(target="y", task_type="regression", max_trials=9, tuner="bayesian")
    tuner = make_tuner(
        config, build, workdir=tmp_path, reporter=reporter, guard=Guard(reporter, None)
    )
    # Keras Tuner's own default (3 per hyperparameter) would be random for a whole budget
    assert tuner.oracle.num_initial_points == 3
