"""The plots' data stored with a version's test metrics: a thinned ROC curve for two classes,
one per class against the rest for more,
a bounded sample of (actual, predicted) pairs for regression."""

from __future__ import annotations

import json
from typing import Any, cast

import numpy as np
import pytest
from sklearn import metrics as skm

from jobs.engine.evaluation import (
    IMPORTANCE_ROWS_SHUFFLED,
    ROC_CLASS_POINTS,
    ROC_CLASSES_POINTS,
    ROC_POINTS,
    SAMPLE_PAIRS,
    evaluate,
    permutation_importance,
)


def _two_classes(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    # An imperfect classifier: the positive class's probability leans towards the truth.
    p = np.clip(0.35 * y + rng.uniform(0, 0.65, n), 0, 1)
    return y.astype(float), np.column_stack([1 - p, p])


def test_a_two_class_result_has_its_roc_curve_from_0_0_to_1_1() -> None:
    y, outputs = _two_classes(60)
    metrics = evaluate("binary", y, outputs, ["no", "yes"])
    roc = metrics["roc_curve"]
    assert roc["positive"] == "yes"
    assert len(roc["fpr"]) == len(roc["tpr"]) >= 3
    assert (roc["fpr"][0], roc["tpr"][0]) == (0.0, 0.0)
    assert (roc["fpr"][-1], roc["tpr"][-1]) == (1.0, 1.0)
    assert roc["fpr"] == sorted(roc["fpr"])
    assert roc["tpr"] == sorted(roc["tpr"])
    # the stored points are the curve whose area is the reported AUC
    assert np.trapezoid(roc["tpr"], roc["fpr"]) == pytest.approx(metrics["roc_auc"], abs=1e-3)


def test_a_large_test_split_stores_a_thinned_curve_that_keeps_its_area() -> None:
    y, outputs = _two_classes(20_000)
    metrics = evaluate("binary", y, outputs, ["no", "yes"])
    roc = metrics["roc_curve"]
    assert len(skm.roc_curve(y, outputs[:, 1])[0]) > ROC_POINTS  # there was something to thin
    assert len(roc["fpr"]) <= ROC_POINTS
    assert (roc["fpr"][0], roc["tpr"][0], roc["fpr"][-1], roc["tpr"][-1]) == (0, 0, 1, 1)
    assert np.trapezoid(roc["tpr"], roc["fpr"]) == pytest.approx(metrics["roc_auc"], abs=0.01)
    assert len(json.dumps(roc)) < 6_000


def _classes(n_classes: int, rows: int, seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.tile(np.arange(n_classes), rows // n_classes)
    # Probabilities that lean towards the true class, more for the higher classes: each class
    # gets its own curve and AUC.
    raw = rng.uniform(0, 1, (len(y), n_classes))
    raw[np.arange(len(y)), y] += np.linspace(0.1, 1.5, n_classes)[y]
    return y.astype(float), raw / raw.sum(axis=1, keepdims=True)


def test_more_than_two_classes_have_one_curve_per_class_against_the_rest() -> None:
    y, outputs = _classes(3, 300)
    metrics = evaluate("multiclass", y, outputs, ["a", "b", "c"])
    assert "roc_curve" not in metrics  # the two-class format stays what it was
    curves = metrics["roc_curves"]
    assert [c["label"] for c in curves] == ["a", "b", "c"]
    for i, c in enumerate(curves):
        truth = (y == i).astype(int)
        assert c["auc"] == pytest.approx(skm.roc_auc_score(truth, outputs[:, i]), abs=1e-6)
        assert len(c["fpr"]) == len(c["tpr"]) <= ROC_CLASS_POINTS[1]
        assert (c["fpr"][0], c["tpr"][0], c["fpr"][-1], c["tpr"][-1]) == (0, 0, 1, 1)
        assert c["fpr"] == sorted(c["fpr"])
        assert c["tpr"] == sorted(c["tpr"])
        # the stored points are the curve whose area is that class's AUC
        assert np.trapezoid(c["tpr"], c["fpr"]) == pytest.approx(c["auc"], abs=0.01)
    # the better a class is told apart, the larger its AUC
    assert curves[0]["auc"] < curves[1]["auc"] < curves[2]["auc"]
    # and the macro ROC AUC is their mean
    assert np.mean([c["auc"] for c in curves]) == pytest.approx(metrics["roc_auc"], abs=1e-6)


def test_many_classes_share_a_bounded_number_of_points() -> None:
    y, outputs = _classes(40, 8_000)
    curves = evaluate("multiclass", y, outputs, [f"class {i}" for i in range(40)])["roc_curves"]
    assert len(curves) == 40
    share = max(ROC_CLASS_POINTS[0], ROC_CLASSES_POINTS // 40)
    points = [len(c["fpr"]) for c in curves]
    assert sum(points) <= ROC_CLASSES_POINTS
    for i, n in enumerate(points):
        # thinned to the class's share, or as many as the curve had
        assert n == min(share, len(skm.roc_curve(y == i, outputs[:, i])[0]))
    assert max(points) == share
    assert len(json.dumps(curves)) < 20_000
    for c in curves:
        assert np.trapezoid(c["tpr"], c["fpr"]) == pytest.approx(c["auc"], abs=0.03)


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_a_class_missing_from_the_test_split_leaves_no_curves() -> None:
    y = np.tile([0, 1], 30).astype(float)  # "c" never occurs: its curve is undefined
    outputs = np.random.default_rng(3).dirichlet([1, 1, 1], len(y))
    metrics = evaluate("multiclass", y, outputs, ["a", "b", "c"])
    assert "roc_curves" not in metrics


def test_a_small_regression_split_stores_every_pair_in_order() -> None:
    y = np.array([1.0, 2.5, -3.0, 4.125])
    pred = np.array([[1.1], [2.0], [-2.5], [4.0]])
    sample = evaluate("regression", y, pred, [])["predictions_sample"]
    assert sample["actual"] == [1.0, 2.5, -3.0, 4.125]
    assert sample["predicted"] == [1.1, 2.0, -2.5, 4.0]
    assert sample["of"] == 4


def test_a_large_regression_split_stores_a_bounded_repeatable_sample() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(100, 30, 5_000)
    pred = (0.5 * y + 7).reshape(-1, 1)
    first = evaluate("regression", y, pred, [])["predictions_sample"]
    again = evaluate("regression", y, pred, [])["predictions_sample"]
    assert first == again
    assert first["of"] == 5_000
    assert len(first["actual"]) == len(first["predicted"]) == SAMPLE_PAIRS
    # each pair is one row's, not an actual from one row beside a prediction from another
    for a, p in zip(first["actual"], first["predicted"], strict=True):
        assert p == pytest.approx(0.5 * a + 7, rel=1e-5)
    assert len(json.dumps(first)) < 12_000


class _FirstColumn:
    """A regression model that answers column 0, counting the rows it is asked about."""

    def __init__(self) -> None:
        self.rows = 0

    def predict(self, x: np.ndarray, verbose: int = 0, batch_size: int = 32) -> np.ndarray:
        self.rows += len(x)
        return x[:, :1]


def test_permutation_importance_on_a_wide_table_predicts_a_bounded_number_of_rows() -> None:
    # given 5,000 test rows of 80 columns, of which only the first matters
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5000, 80)).astype("float32")
    model = _FirstColumn()
    names = [f"c{i}" for i in range(80)]

    # when their importance is measured
    ranked = permutation_importance(cast(Any, model), x, x[:, 0], "regression", names)

    # then the first column still comes first, and the others count for nothing
    assert ranked[0]["feature"] == "c0"
    assert ranked[0]["importance"] > 0.5
    assert all(r["importance"] == 0.0 for r in ranked[1:])
    # and the model predicted a bounded sample, not 241 passes over all 5,000 rows
    assert model.rows <= IMPORTANCE_ROWS_SHUFFLED + 1000


def test_permutation_importance_on_a_narrow_table_uses_every_test_row() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3000, 4)).astype("float32")
    model = _FirstColumn()
    permutation_importance(cast(Any, model), x, x[:, 0], "regression", list("abcd"))
    assert model.rows == 3000 * (1 + 4 * 3)
