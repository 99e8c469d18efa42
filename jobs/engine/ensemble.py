"""Averaging the best trials' models, kept only when it beats the best one on validation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

from jobs.engine.data import TaskType
from jobs.engine.layers import ClassLabels


def validation_loss(task_type: TaskType, y: np.ndarray, outputs: np.ndarray) -> float:
    """The search's own objective: cross-entropy for classes, squared error for values."""
    if task_type == "regression":
        return float(np.mean((y - outputs.reshape(-1)) ** 2))
    probabilities = np.clip(outputs[np.arange(len(y)), y.astype(int)], 1e-7, 1.0)
    return float(-np.mean(np.log(probabilities)))


def build_ensemble(
    members: Sequence[keras.Model],
    labels: Sequence[str],
    n_features: int | None = None,
    *,
    shape: tuple[int, ...] | None = None,
    input_name: str = "features",
    head: Callable[[Any], Any] | None = None,
) -> keras.Model:
    """One Keras model (one file, one signature) whose output is the members' mean.

    A table's members take `n_features` values; others (images) take an input of `shape`.
    """
    inputs = keras.Input(shape=shape or (n_features,), name=input_name)
    outputs = []
    for index, member in enumerate(members):
        member.name = f"member_{index}"  # nested models need distinct names to be saved
        outputs.append(member(inputs))
    averaged: Any = keras.layers.Average(name="average")(outputs)
    if head is not None:
        averaged = head(averaged)
    elif labels:
        averaged = ClassLabels(list(labels), name="ensemble_labels")(averaged)
    return keras.Model(inputs, averaged, name="ensemble")


def choose(
    task_type: TaskType,
    members: Sequence[keras.Model],
    x_val: np.ndarray,
    y_val: np.ndarray,
    labels: Sequence[str],
    *,
    input_name: str = "features",
    batch_size: int = 1024,
    loss: Callable[[np.ndarray, np.ndarray], float] | None = None,
    build: Callable[[Sequence[keras.Model]], keras.Model] | None = None,
) -> tuple[keras.Model, dict[str, Any]]:
    """The best member alone, or the ensemble of all when its validation loss is lower.

    loss: the search's objective on (targets, outputs), by default the task type's own;
    build: makes the ensemble model from the members, by default their average.
    """
    loss = loss or (lambda y, out: validation_loss(task_type, y, out))

    def predict(model: keras.Model) -> np.ndarray:
        return keras.ops.convert_to_numpy(model.predict(x_val, verbose=0, batch_size=batch_size))

    outputs = [predict(m) for m in members]
    single = loss(y_val, outputs[0])
    report: dict[str, Any] = {"best_trial_val_loss": single, "size": len(members)}
    if len(members) < 2:
        return members[0], {**report, "chosen": False}
    averaged = loss(y_val, np.mean(outputs, axis=0))
    report["ensemble_val_loss"] = averaged
    if averaged >= single:
        return members[0], {**report, "chosen": False}
    if build is None:
        ensemble = build_ensemble(members, labels, shape=x_val.shape[1:], input_name=input_name)
    else:
        ensemble = build(members)
    return ensemble, {**report, "chosen": True}
