from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes

from jobs.engine import model as engine_model
from jobs.engine.search import SearchConfig, run_search
from tests.conftest import RecordingReporter


def test_search_reports_every_trial_and_epoch(searched: Any) -> None:
    result, reporter, _ = searched
    kinds = [kind for kind, _ in reporter.calls]
    assert kinds == [
        "trial_started", "epoch_end", "epoch_end", "trial_finished",
        "trial_started", "epoch_end", "epoch_end", "trial_finished",
    ]  # fmt: skip
    assert ("trial_finished", (1, "COMPLETED")) in reporter.calls
    assert result.best_trial in (1, 2)
    assert result.n_train + result.n_validation + result.n_test == 569


def test_evaluation_on_the_test_split_is_honest_and_complete(searched: Any) -> None:
    result, _, _ = searched
    metrics = result.test_metrics
    assert result.n_test == 114
    assert 0.8 < metrics["accuracy"] <= 1.0
    assert {"balanced_accuracy", "macro_f1", "log_loss", "roc_auc"} <= set(metrics)
    assert np.array(metrics["confusion_matrix"]).sum() == result.n_test
    roc = metrics["roc_curve"]
    assert roc["positive"] == "malignant"
    assert np.trapezoid(roc["tpr"], roc["fpr"]) == pytest.approx(metrics["roc_auc"], abs=1e-3)


def test_saved_model_takes_raw_values_and_matches_the_trained_one(
    searched: Any, cancer_frame: pd.DataFrame
) -> None:
    result, _, path = searched
    rows = cancer_frame.drop(columns="diagnosis").iloc[:20].to_dict("records")
    loaded = engine_model.load(str(path))
    from_file = engine_model.predict(loaded, rows)
    in_memory = engine_model.predict(result.model, rows)
    assert [p["label"] for p in from_file] == [p["label"] for p in in_memory]
    for a, b in zip(from_file, in_memory, strict=True):
        assert a["probabilities"]["benign"] == pytest.approx(b["probabilities"]["benign"], 1e-6)
    schema = engine_model.input_schema(loaded)
    assert schema[-1] == {
        "name": "clinic",
        "type": "categorical",
        "values": ["east", "north", "south"],
    }
    assert engine_model.class_labels(loaded) == ["benign", "malignant"]


def test_unknown_categories_and_missing_numbers_are_handled_inside_the_model(
    searched: Any, cancer_frame: pd.DataFrame
) -> None:
    _, _, path = searched
    row = cancer_frame.drop(columns="diagnosis").iloc[0].to_dict()
    odd = {**row, "clinic": "on the moon", "mean_radius": None}
    (prediction,) = engine_model.predict(engine_model.load(str(path)), [odd])
    assert prediction["label"] in ("benign", "malignant")
    assert sum(prediction["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"drop": "mean_texture"}, "mean_texture", "missing field"),
        ({"set": ("shoe_size", 42)}, "shoe_size", "unknown field"),
        ({"set": ("mean_radius", "large")}, "mean_radius", "must be a number"),
        ({"set": ("mean_radius", True)}, "mean_radius", "must be a number"),
        ({"set": ("mean_radius", float("inf"))}, "mean_radius", "finite"),
        ({"set": ("clinic", {"nested": 1})}, "clinic", "string or number"),
    ],
)
def test_malformed_instances_name_the_field(
    searched: Any, cancer_frame: pd.DataFrame, change: dict[str, Any], field: str, message: str
) -> None:
    _, _, path = searched
    row = cancer_frame.drop(columns="diagnosis").iloc[0].to_dict()
    if "drop" in change:
        row.pop(change["drop"])
    else:
        key, value = change["set"]
        row[key] = value
    with pytest.raises(engine_model.RecordError, match=message) as caught:
        engine_model.predict(engine_model.load(str(path)), [{**row}])
    assert caught.value.field == field
    assert caught.value.instance == 0


def test_regression_answers_in_the_targets_units(tmp_path: Path) -> None:
    frame = load_diabetes(as_frame=True).frame
    config = SearchConfig(target="target", task_type="regression", max_trials=1, max_epochs=3)
    result = run_search(frame, config, workdir=tmp_path, reporter=RecordingReporter())
    assert {"rmse", "mae", "r2"} <= set(result.test_metrics)
    predictions = engine_model.predict(
        result.model, frame.drop(columns="target").iloc[:50].to_dict("records")
    )
    # the diabetes target lies between 25 and 346; a model that forgot to rescale answers ~0
    assert 50 < float(np.mean(predictions)) < 300


def test_a_skewed_target_is_learned_on_the_log_scale_and_answered_in_its_units(
    tmp_path: Path,
) -> None:
    # given a positive target spread over three decades (prices, wages, counts)
    rng = np.random.default_rng(7)
    x = rng.normal(size=(600, 3))
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    frame["price"] = np.exp(2.0 + 1.2 * x[:, 0] - 0.5 * x[:, 1] + 0.1 * rng.normal(size=600))
    config = SearchConfig(target="price", task_type="regression", max_trials=1, max_epochs=30)
    # when one trial is searched and its file saved and loaded
    result = run_search(frame, config, workdir=tmp_path, reporter=RecordingReporter())
    path = tmp_path / "model.keras"
    result.model.save(path)
    loaded = engine_model.load(str(path))
    rows = frame.drop(columns="price").iloc[:200].to_dict("records")
    from_file = np.asarray(engine_model.predict(loaded, rows), dtype="float64").reshape(-1)
    # then the first trial drew the log scale, and the file answers in the target's own units:
    # positive, and close to the truth in ratio over the whole range (not in log units)
    assert result.hyperparameters["target_transform"] == "log"
    truth = frame["price"].to_numpy()[:200]
    assert (from_file > 0).all()
    assert float(np.median(np.abs(np.log(from_file / truth)))) < 0.5
    in_memory = np.asarray(engine_model.predict(result.model, rows), dtype="float64").reshape(-1)
    np.testing.assert_allclose(from_file, in_memory, rtol=1e-5)


def test_classification_metrics_include_per_class_figures_and_importance(searched: Any) -> None:
    metrics = searched[0].test_metrics
    assert metrics["labels"] == ["benign", "malignant"]
    per_class = metrics["per_class"]
    assert sum(c["support"] for c in per_class.values()) == 114
    assert 0 <= per_class["malignant"]["recall"] <= 1
    importance = metrics["feature_importance"]
    assert {i["feature"] for i in importance} == {
        "mean_radius", "mean_texture", "mean_perimeter", "mean_area", "worst_radius",
        "worst_texture", "worst_perimeter", "worst_area", "clinic",
    }  # fmt: skip
    scores = [i["importance"] for i in importance]
    assert scores == sorted(scores, reverse=True)
    # the clinic column is noise: shuffling it cannot matter more than the best feature
    assert importance[0]["feature"] != "clinic"
    assert next(i for i in importance if i["feature"] == "clinic")["importance"] < 0.02


def test_regression_metrics_summarise_residuals(tmp_path: Path) -> None:
    frame = load_diabetes(as_frame=True).frame
    config = SearchConfig(target="target", task_type="regression", max_trials=1, max_epochs=3)
    result = run_search(frame, config, workdir=tmp_path, reporter=RecordingReporter())
    metrics = result.test_metrics
    sample = metrics["predictions_sample"]
    assert sample["of"] == result.n_test == len(sample["actual"]) == len(sample["predicted"])
    residuals = np.subtract(sample["actual"], sample["predicted"])
    assert np.sqrt(np.mean(residuals**2)) == pytest.approx(metrics["rmse"], rel=1e-3)
    quantiles = metrics["residuals"]["quantiles"]
    assert quantiles["p0"] <= quantiles["p50"] <= quantiles["p100"]
    assert abs(metrics["residuals"]["std"] - metrics["rmse"]) < metrics["rmse"]
    assert len(metrics["feature_importance"]) == 10


def test_multiclass_gets_a_macro_roc_auc(tmp_path: Path) -> None:
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    config = SearchConfig(target="target", task_type="multiclass", max_trials=1, max_epochs=5)
    metrics = run_search(frame, config, workdir=tmp_path, reporter=RecordingReporter()).test_metrics
    assert 0.5 <= metrics["roc_auc"] <= 1.0
    assert len(metrics["confusion_matrix"]) == 3
