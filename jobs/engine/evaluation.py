"""Metrics on the held-out test split, and which features the model leans on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from sklearn import metrics as skm

from jobs.engine.data import TaskType
from jobs.engine.layers import THRESHOLD

QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)
# Enough points for a plot, few enough that the stored metrics stay a few kilobytes.
ROC_POINTS = 200
# More than two classes: one curve per class against the rest, sharing a budget of points so
# that many classes get coarser curves instead of larger metrics (100 classes: 1,000 points).
ROC_CLASSES_POINTS = 600
ROC_CLASS_POINTS = (10, 100)
SAMPLE_PAIRS = 500


def evaluate(
    task_type: TaskType, y_true: np.ndarray, outputs: np.ndarray, labels: list[str]
) -> dict[str, Any]:
    """Classification: accuracy, balanced accuracy, macro F1, ROC AUC and ROC curves (for two
    classes the positive one's, for more one per class against the rest), log loss, confusion
    matrix, per-class precision/recall. Regression: RMSE, MAE, R², residual summary and a sample
    of (actual, predicted) pairs."""
    if task_type == "regression":
        pred = outputs.reshape(-1)
        residuals = y_true - pred
        return {
            "rmse": float(np.sqrt(np.mean(residuals**2))),
            "mae": float(np.mean(np.abs(residuals))),
            "r2": float(skm.r2_score(y_true, pred)),
            "residuals": {
                "mean": float(residuals.mean()),
                "std": float(residuals.std()),
                "quantiles": {
                    f"p{round(q * 100)}": float(v)
                    for q, v in zip(QUANTILES, np.quantile(residuals, QUANTILES), strict=True)
                },
            },
            "predictions_sample": prediction_sample(y_true, pred),
        }
    y = y_true.astype(int)
    pred = outputs.argmax(axis=1)
    clipped = np.clip(outputs, 1e-7, 1.0)
    clipped = clipped / clipped.sum(axis=1, keepdims=True)
    classes = list(range(len(labels)))
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y, pred, labels=classes, zero_division=0
    )
    result: dict[str, Any] = {
        "accuracy": float(skm.accuracy_score(y, pred)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y, pred)),
        "macro_f1": float(skm.f1_score(y, pred, average="macro")),
        "log_loss": float(skm.log_loss(y, clipped, labels=classes)),
        "confusion_matrix": skm.confusion_matrix(y, pred, labels=classes).tolist(),
        "labels": list(labels),
        "per_class": per_label_scores(labels, precision, recall, f1, support),
    }
    if len(labels) == 2 and len(np.unique(y)) == 2:
        result["roc_auc"] = float(skm.roc_auc_score(y, outputs[:, 1]))
        result["roc_curve"] = {"positive": labels[1], **roc_points(y, outputs[:, 1])}
    elif len(np.unique(y)) == len(labels) > 2:
        result["roc_auc"] = float(
            skm.roc_auc_score(y, clipped, multi_class="ovr", average="macro", labels=classes)
        )
        result["roc_curves"] = one_vs_rest_curves(y, clipped, labels)
    return result


def one_vs_rest_curves(
    y: np.ndarray, probabilities: np.ndarray, labels: Sequence[str]
) -> list[dict[str, Any]]:
    """Each class's ROC curve against all the others, with its AUC (their mean is the macro
    ROC AUC), each thinned to its share of `ROC_CLASSES_POINTS`. Every class must occur in y."""
    low, high = ROC_CLASS_POINTS
    limit = min(high, max(low, ROC_CLASSES_POINTS // len(labels)))
    curves = []
    for i, label in enumerate(labels):
        truth = (y == i).astype(int)
        curves.append(
            {
                "label": label,
                "auc": float(skm.roc_auc_score(truth, probabilities[:, i])),
                **roc_points(truth, probabilities[:, i], limit),
            }
        )
    return curves


def roc_points(y: np.ndarray, scores: np.ndarray, limit: int = ROC_POINTS) -> dict[str, Any]:
    """The ROC curve of a two-class problem (y is 0/1, scores the positive class's
    probability), thinned to at most `limit` points that keep both ends and the curve's order."""
    fpr, tpr, _ = skm.roc_curve(y, scores)
    if len(fpr) > limit:
        keep = np.unique(np.linspace(0, len(fpr) - 1, limit).round().astype(int))
        fpr, tpr = fpr[keep], tpr[keep]
    return {"fpr": [round(float(v), 4) for v in fpr], "tpr": [round(float(v), 4) for v in tpr]}


def prediction_sample(
    y_true: np.ndarray, pred: np.ndarray, limit: int = SAMPLE_PAIRS, seed: int = 0
) -> dict[str, Any]:
    """Up to `limit` test rows' (actual, predicted) pairs, drawn at random (fixed seed) so a
    residual plot shows the whole split's shape without storing every row; `of` is the split's
    size."""
    n = len(pred)
    index = np.arange(n)
    if n > limit:
        index = np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))
    return {
        "actual": [_short(y_true[i]) for i in index],
        "predicted": [_short(pred[i]) for i in index],
        "of": int(n),
    }


def _short(value: Any) -> float:
    # Six significant digits are more than a plot can show, and half a float's JSON length.
    return float(f"{float(value):.6g}")


def _score(task_type: TaskType, y: np.ndarray, outputs: np.ndarray) -> float:
    """Higher is better: accuracy, or minus the RMSE."""
    if task_type == "regression":
        return -float(np.sqrt(np.mean((y - outputs.reshape(-1)) ** 2)))
    return float(np.mean(outputs.argmax(axis=1) == y.astype(int)))


# The most rows permutation importance shuffles and predicts, over all columns and repeats.
IMPORTANCE_ROWS_SHUFFLED = 150_000
IMPORTANCE_LEAST_ROWS = 500


def permutation_importance(
    model: keras.Model,
    x_test: np.ndarray,
    y_test: np.ndarray,
    task_type: TaskType,
    names: Sequence[str],
    *,
    repeats: int = 3,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """How much the test score drops when one column's values are shuffled, most important
    first (accuracy points for classification, RMSE units for regression).

    On at most IMPORTANCE_ROWS_SHUFFLED / (columns x repeats) test rows, drawn at random (and
    never fewer than IMPORTANCE_LEAST_ROWS): every column costs `repeats` predictions, so on
    all rows an 80-column table of 5,000 test rows would take 1.2 million rows predicted by
    each model, 15 s on two cores, of a finish that is kept from the search."""
    rng = np.random.default_rng(seed)
    most = max(IMPORTANCE_LEAST_ROWS, IMPORTANCE_ROWS_SHUFFLED // max(1, len(names) * repeats))
    if len(y_test) > most:
        rows = np.sort(rng.choice(len(y_test), most, replace=False))
        x_test, y_test = x_test[rows], y_test[rows]

    def predict(x: np.ndarray) -> np.ndarray:
        return keras.ops.convert_to_numpy(model.predict(x, verbose=0, batch_size=1024))

    baseline = _score(task_type, y_test, predict(x_test))
    result = []
    for column, name in enumerate(names):
        drops = []
        for _ in range(repeats):
            shuffled = x_test.copy()
            shuffled[:, column] = rng.permutation(shuffled[:, column])
            drops.append(baseline - _score(task_type, y_test, predict(shuffled)))
        result.append(
            {"feature": name, "importance": float(np.mean(drops)), "std": float(np.std(drops))}
        )
    return sorted(result, key=lambda r: r["importance"], reverse=True)


def per_label_scores(
    labels: Sequence[str], precision: Any, recall: Any, f1: Any, support: Any
) -> dict[str, dict[str, float | int]]:
    """Precision, recall, F1 and support by label, from scikit-learn's per-label arrays."""
    return {
        label: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, label in enumerate(labels)
    }


def evaluate_multilabel(
    y_true: np.ndarray, outputs: np.ndarray, labels: Sequence[str], threshold: float = THRESHOLD
) -> dict[str, Any]:
    """Per-label precision/recall/F1, micro and macro F1, subset accuracy, Hamming loss."""
    truth = y_true.astype(int)
    pred = (outputs >= threshold).astype(int)
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        truth, pred, average=None, zero_division=0
    )
    clipped = np.clip(outputs, 1e-7, 1 - 1e-7)
    bce = -np.mean(truth * np.log(clipped) + (1 - truth) * np.log(1 - clipped))
    return {
        "labels": list(labels),
        "threshold": threshold,
        "micro_f1": float(skm.f1_score(truth, pred, average="micro", zero_division=0)),
        "macro_f1": float(skm.f1_score(truth, pred, average="macro", zero_division=0)),
        "subset_accuracy": float(skm.accuracy_score(truth, pred)),
        "hamming_loss": float(skm.hamming_loss(truth, pred)),
        "log_loss": float(bce),
        "per_label": per_label_scores(labels, precision, recall, f1, support),
    }
