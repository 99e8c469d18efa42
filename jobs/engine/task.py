"""The interface every task module implements, and what its steps hand each other: core,
imports no task.

A task is one kind of job: what it reads (a table, or an image archive) and which jobs it
takes; then its steps, which `runner.run_task` runs in this order for every task alike:
`prepare` (split the data, encode inputs and targets, class weights), `hypermodel` (the
search space), the tuner (`tuning.tune`), the choice of an ensemble (`ensembling`), a refit on
the validation rows (`refit`), and `evaluate` (the final model's test metrics, once). Its
saved models start with its `input_layer`, which turns a prediction request into the model's
input; `layers.predict` runs the model and decodes its outputs, for every task the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import keras
import numpy as np
import pandas as pd

from jobs.engine.config import SearchConfig
from jobs.engine.layers import ServingInput


@dataclass
class Prepared:
    """A task's data ready for the search: inputs and targets of each part of the split.

    Tasks subclass it (keyword-only fields) with what their hypermodel and evaluation need.
    """

    train: tuple[Any, np.ndarray]
    validation: tuple[Any, np.ndarray]
    test: tuple[Any, np.ndarray]
    # The rows of each part (their index is hashed into the manifest).
    splits: Sequence[pd.DataFrame]
    # Class names, for an ensemble's ClassLabels head (empty: the task builds its own head).
    labels: list[str] = field(default_factory=list)
    class_weight: dict[int, float] | None = None
    # Added to the search's manifest.
    manifest: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Ensembling:
    """How a task averages its best trials, when that beats the best alone on validation.

    loss: the search's objective on (targets, outputs) (None: the task type's own);
    build: the ensemble model from the members (None: their average under ClassLabels).
    """

    loss: Callable[[np.ndarray, np.ndarray], float] | None = None
    build: Callable[[Sequence[keras.Model]], keras.Model] | None = None
    input_name: str = "features"
    batch_size: int = 1024


def _never(prepared: Any) -> Ensembling | None:
    return None


def _val_loss(config: SearchConfig) -> str:
    return "val_loss"


@dataclass(frozen=True)
class Task:
    name: str
    reads: Literal["table", "images"]
    # Whether a job of this configuration is this task's (asked in the registry's order).
    handles: Callable[[SearchConfig], bool]
    # (data, config) -> Prepared: data is a frame, or an archive's path (see `reads`).
    prepare: Callable[[Any, SearchConfig], Prepared]
    # (prepared, config) -> a Keras Tuner hypermodel or build function.
    hypermodel: Callable[[Any, SearchConfig], Any]
    # (prepared, config, final model) -> the test metrics.
    evaluate: Callable[[Any, SearchConfig, keras.Model], dict[str, Any]]
    input_layer: type[ServingInput]
    ensembling: Callable[[Any], Ensembling | None] = _never
    # The validation metric the tuner ranks trials by.
    objective: Callable[[SearchConfig], str] = _val_loss
    # Train the chosen trials again on training and validation rows when the budget allows.
    refit: bool = False
