"""Averaging the best trials: one file, one signature, chosen only when it helps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from jobs.engine import model as engine_model
from jobs.engine.ensemble import build_ensemble, choose, validation_loss
from jobs.engine.search import SearchConfig, run_search
from tests.conftest import RecordingReporter


@pytest.fixture(scope="module")
def members(cancer_frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Any:
    config = SearchConfig(
        target="diagnosis", task_type="binary", max_trials=3, max_epochs=3, ensemble_size=1
    )
    models = []
    for seed in (1, 2):
        result = run_search(
            cancer_frame,
            SearchConfig(**{**config.__dict__, "seed": seed}),
            workdir=tmp_path_factory.mktemp(f"member{seed}"),
            reporter=RecordingReporter(),
        )
        assert result.source == "best_trial_weights"
        models.append(result.model)
    return models


def test_an_ensemble_is_one_file_that_averages_its_members(
    members: Any, cancer_frame: pd.DataFrame, tmp_path: Path
) -> None:
    rows = cancer_frame.drop(columns="diagnosis").iloc[:8].to_dict("records")
    alone = [engine_model.predict(m, rows) for m in members]

    ensemble = build_ensemble(members, ["benign", "malignant"], n_features=9)
    path = tmp_path / "ensemble.keras"
    ensemble.save(path)
    loaded = engine_model.load(str(path))

    together = engine_model.predict(loaded, rows)
    assert engine_model.class_labels(loaded) == ["benign", "malignant"]
    assert [c["name"] for c in engine_model.input_schema(loaded)][-1] == "clinic"
    for i, prediction in enumerate(together):
        expected = np.mean([a[i]["probabilities"]["malignant"] for a in alone])
        assert prediction["probabilities"]["malignant"] == pytest.approx(expected, abs=1e-5)


def test_the_ensemble_is_chosen_only_when_validation_says_so() -> None:
    y = np.array([0, 1, 1, 0])

    class Fixed:
        def __init__(self, out: list[list[float]]) -> None:
            self.out = np.array(out)

        def predict(self, x: Any, **_: Any) -> np.ndarray:
            return self.out

    good = Fixed([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.8, 0.2]])
    bad = Fixed([[0.1, 0.9], [0.9, 0.1], [0.9, 0.1], [0.1, 0.9]])
    model, report = choose("binary", [good, bad], np.zeros((4, 1)), y, ["a", "b"])
    assert model is good
    assert report["chosen"] is False
    assert report["ensemble_val_loss"] > report["best_trial_val_loss"]
    assert validation_loss("binary", y, good.out) < validation_loss("binary", y, bad.out)


def test_a_search_reports_how_its_final_model_was_chosen(searched: Any) -> None:
    result = searched[0]
    assert result.source in ("best_trial_weights", "ensemble_top2")
    assert result.ensemble["size"] == 2
    assert (result.source == "ensemble_top2") == result.ensemble["chosen"]
