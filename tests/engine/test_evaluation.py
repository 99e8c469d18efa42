"""The plots' data stored with a version's test metrics: a thinned ROC curve for two classes,
a bounded sample of (actual, predicted) pairs for regression."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from jobs.engine.evaluation import ROC_POINTS, SAMPLE_PAIRS, evaluate


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


def test_more_than_two_classes_have_no_roc_curve() -> None:
    rng = np.random.default_rng(2)
    y = np.tile([0, 1, 2], 20).astype(float)
    outputs = rng.dirichlet([1, 1, 1], len(y))
    metrics = evaluate("multiclass", y, outputs, ["a", "b", "c"])
    assert "roc_auc" in metrics
    assert "roc_curve" not in metrics


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
