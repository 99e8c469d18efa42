"""A saved model, whatever its task: load it safely, read its input schema, predict.

The predictor and the registry call only this module. Importing the task registry registers
every layer a saved file may hold, so Keras' safe mode can load any of them; `predict` and
`input_schema` then read the model's own input layer (`layers.ServingInput`), and never ask
which task made the model.
"""

from __future__ import annotations

import keras

from jobs.engine import tasks
from jobs.engine.layers import RecordError, Served, class_labels, input_schema, predict

__all__ = ["RecordError", "Served", "class_labels", "input_schema", "load", "predict", "tasks"]


def load(path: str) -> keras.Model:
    """Load a saved model with Keras' safe mode: no Lambda code, no unregistered classes."""
    if not path.endswith(".keras"):
        raise ValueError("Only .keras model files are loaded.")
    return keras.saving.load_model(path, safe_mode=True, compile=False)
