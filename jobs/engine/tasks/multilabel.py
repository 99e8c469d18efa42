"""Multi-label classification: each row carries a set of labels, written in one target column
with a delimiter ("drama;comedy", "a|b"). Sigmoid outputs with binary cross-entropy; a label is
predicted when its probability reaches the threshold (0.5) stored in the model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd

from jobs.engine.column_specs import ColumnSpec, fit_column_specs
from jobs.engine.config import SearchConfig
from jobs.engine.data import infer_column_type
from jobs.engine.encoding import TabularEncoder, encode_frame, tabular_body
from jobs.engine.ensemble import build_ensemble
from jobs.engine.layers import MultiLabels
from jobs.engine.runner import Targets, add_head, evaluate_outputs, predict_outputs, prepare_targets
from jobs.engine.split import split_frame
from jobs.engine.task import Ensembling, Prepared, Task


@dataclass(kw_only=True)
class LabelSets(Prepared):
    targets: Targets
    specs: list[ColumnSpec]


def prepare(frame: pd.DataFrame, config: SearchConfig) -> LabelSets:
    """A seeded shuffle (label sets are too many combinations to stratify on); one 0/1 column
    per label."""
    frame = frame.reset_index(drop=True)
    features = [str(c) for c in frame.columns if c != config.target]
    types = {name: infer_column_type(frame[name]) for name in features}
    train, val, test = split_frame(frame, config, stratify=None)
    targets = prepare_targets(frame, config, train.index)
    specs = fit_column_specs(train, types)
    return LabelSets(
        train=(encode_frame(specs, train), targets.of(train)),
        validation=(encode_frame(specs, val), targets.of(val)),
        test=(encode_frame(specs, test), targets.of(test)),
        splits=(train, val, test),
        targets=targets,
        specs=specs,
    )


def hypermodel(data: LabelSets, config: SearchConfig) -> Any:
    """The tabular MLP body with one sigmoid output per label."""
    encoder_config = [s.to_config() for s in data.specs]

    def build(hp: kt.HyperParameters) -> keras.Model:
        inputs, x = tabular_body(hp, encoder_config)
        learning_rate = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")
        return add_head(inputs, x, data.targets, learning_rate)

    return build


def evaluate(data: LabelSets, config: SearchConfig, model: keras.Model) -> dict[str, Any]:
    x_test, y_test = data.test
    return evaluate_outputs(data.targets, y_test, predict_outputs(model, x_test))


def ensembling(data: LabelSets) -> Ensembling:
    """The members' average under one MultiLabels head, judged by binary cross-entropy."""
    targets = data.targets
    return Ensembling(
        loss=binary_cross_entropy,
        build=lambda members: build_ensemble(
            members,
            [],
            len(data.specs),
            head=MultiLabels(targets.labels, delimiter=targets.delimiter, name="ensemble"),
        ),
    )


def binary_cross_entropy(y: np.ndarray, outputs: np.ndarray) -> float:
    """The multi-label search's objective, on per-label probabilities."""
    clipped = np.clip(outputs, 1e-7, 1 - 1e-7)
    return float(-np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped)))


TASK = Task(
    name="multilabel",
    reads="table",
    handles=lambda config: config.task_type == "multilabel" and not config.text_column,
    prepare=prepare,
    hypermodel=hypermodel,
    evaluate=evaluate,
    input_layer=TabularEncoder,
    ensembling=ensembling,
)
