"""What a search reports while it runs and what it gives back: core, imports no task."""

from __future__ import annotations

import hashlib
import importlib
import os
import platform
from dataclasses import dataclass
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd

from jobs.engine.config import SearchConfig


@dataclass
class SearchResult:
    model: keras.Model
    test_metrics: dict[str, Any]
    hyperparameters: dict[str, Any]
    best_trial: int
    n_train: int
    n_validation: int
    n_test: int
    seconds: float
    stopped: str  # "" when the search ran to its end, else "time_limit" or "cancelled"
    source: str  # "best_trial_weights" or "ensemble_top<k>": what the model file holds
    ensemble: dict[str, Any]
    class_weights: dict[int, float] | None
    manifest: dict[str, Any]


def manifest(config: SearchConfig, splits: tuple[pd.DataFrame, ...], tuner: Any) -> dict[str, Any]:
    """What a rerun needs to give the same trials on the same machine."""
    digest = hashlib.sha256()
    for part in splits:
        digest.update(np.asarray(part.index, dtype="int64").tobytes())
        digest.update(b"|")
    backend = keras.backend.backend()
    versions = {
        "python": platform.python_version(),
        "keras": keras.__version__,
        "keras_tuner": kt.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        backend: importlib.import_module(backend).__version__,
    }
    return {
        "seed": config.seed,
        "tuner": config.tuner,
        "max_trials": config.max_trials,
        "max_epochs": config.max_epochs,
        "max_seconds": config.max_seconds,
        "batch_size": config.batch_size,
        "split": {
            "test_fraction": config.test_fraction,
            "validation_fraction": config.validation_fraction,
            "indices_sha256": digest.hexdigest(),
        },
        "search_space": tuner.oracle.hyperparameters.get_config(),
        "backend": backend,
        "versions": versions,
        "hardware": {
            "machine": platform.machine(),
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
            "gpus": gpu_names(backend),
        },
    }


def gpu_names(backend: str | None = None) -> list[str]:
    """The accelerators this process trains on; empty on a CPU worker."""
    backend = backend or keras.backend.backend()
    if backend == "torch":
        import torch

        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return []
