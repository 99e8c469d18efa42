"""Multi-label classification: each row carries a set of labels, written in one target column
with a delimiter ("drama;comedy", "a|b"). Sigmoid outputs with binary cross-entropy; a label is
predicted when its probability reaches the threshold (0.5) stored in the model."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd
from sklearn import metrics as skm

from jobs.engine.data import infer_column_type
from jobs.engine.ensemble import build_ensemble
from jobs.engine.evaluation import per_label_scores
from jobs.engine.model import ClassLabels, encode_frame, fit_column_specs
from jobs.engine.search import Reporter, SearchConfig, SearchResult, tabular_body

THRESHOLD = 0.5


@keras.saving.register_keras_serializable(package="automl")
class MultiLabels(ClassLabels):
    """Passes per-label probabilities through; carries the labels, delimiter and threshold."""

    def __init__(
        self,
        labels: Sequence[str],
        delimiter: str = ";",
        threshold: float = THRESHOLD,
        **kwargs: Any,
    ) -> None:
        super().__init__(labels, **kwargs)
        self.delimiter = delimiter
        self.threshold = float(threshold)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "delimiter": self.delimiter, "threshold": self.threshold}

    def decode(self, outputs: np.ndarray) -> list[dict[str, Any]]:
        """`{"labels": [those at or over the threshold], "probabilities": {label: p}}`."""
        return decode_multilabel(outputs, self)


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


def decode_multilabel(outputs: np.ndarray, layer: MultiLabels) -> list[dict[str, Any]]:
    result = []
    for row in np.asarray(outputs):
        probabilities = {label: float(p) for label, p in zip(layer.labels, row, strict=True)}
        chosen = [label for label, p in probabilities.items() if p >= layer.threshold]
        result.append({"labels": chosen, "probabilities": probabilities})
    return result


def run_multilabel_search(
    frame: pd.DataFrame, config: SearchConfig, *, workdir: Path, reporter: Reporter
) -> SearchResult:
    """Multi-label on a table: the tabular MLP body with one sigmoid output per label."""
    from jobs.engine.runner import (
        Ensembling,
        add_head,
        evaluate_outputs,
        prepare_targets,
        run_with,
        split_frame,
    )

    started = time.monotonic()
    keras.utils.set_random_seed(config.seed)
    frame = frame.reset_index(drop=True)
    features = [str(c) for c in frame.columns if c != config.target]
    types = {name: infer_column_type(frame[name]) for name in features}
    # Label sets are too many combinations to stratify on; a seeded shuffle instead.
    train, val, test = split_frame(frame, config, stratify=None)
    targets = prepare_targets(frame, config, train.index)
    specs = fit_column_specs(train, types)
    encoder_config = [s.to_config() for s in specs]

    def build(hp: kt.HyperParameters) -> keras.Model:
        inputs, x = tabular_body(hp, encoder_config)
        return add_head(inputs, x, targets, hp.Float("learning_rate", 1e-4, 1e-2, sampling="log"))

    return run_with(
        config,
        hypermodel=build,
        train=(encode_frame(specs, train), targets.of(train)),
        validation=(encode_frame(specs, val), targets.of(val)),
        test=(encode_frame(specs, test), targets.of(test)),
        score=lambda y, out: evaluate_outputs(targets, y, out),
        ensemble=Ensembling(
            loss=binary_cross_entropy,
            build=lambda members: build_ensemble(
                members,
                [],
                len(specs),
                head=MultiLabels(targets.labels, delimiter=targets.delimiter, name="ensemble"),
            ),
        ),
        splits=(train, val, test),
        workdir=workdir,
        reporter=reporter,
        started=started,
    )


def binary_cross_entropy(y: np.ndarray, outputs: np.ndarray) -> float:
    """The multi-label search's objective, on per-label probabilities."""
    clipped = np.clip(outputs, 1e-7, 1 - 1e-7)
    return float(-np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped)))
