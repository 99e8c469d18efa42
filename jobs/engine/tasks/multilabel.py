"""Multi-label classification: each row carries a set of labels, written in one target column
with a delimiter ("drama;comedy", "a|b"). Sigmoid outputs with binary cross-entropy; a label is
predicted when its probability reaches the threshold (0.5) stored in the model."""

from __future__ import annotations

import time
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd

from jobs.engine.config import SearchConfig
from jobs.engine.data import infer_column_type
from jobs.engine.encoding import TabularEncoder, encode_frame, fit_column_specs, tabular_body
from jobs.engine.ensemble import build_ensemble
from jobs.engine.layers import MultiLabels
from jobs.engine.results import Reporter, SearchResult
from jobs.engine.runner import Ensembling, add_head, evaluate_outputs, prepare_targets, run_with
from jobs.engine.split import split_frame
from jobs.engine.task import Task


def search(
    frame: pd.DataFrame, config: SearchConfig, *, workdir: Path, reporter: Reporter
) -> SearchResult:
    """Multi-label on a table: the tabular MLP body with one sigmoid output per label."""
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


TASK = Task(
    name="multilabel",
    reads="table",
    handles=lambda config: config.task_type == "multilabel" and not config.text_column,
    search=search,
    input_layer=TabularEncoder,
)
