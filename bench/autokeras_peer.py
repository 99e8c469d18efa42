"""AutoKeras 3.0 on the quality benchmark's data sets, with the console's splits and budget.

Run by bench/engine_quality.py in the benchmark environment (var/bench-backends, which has
TensorFlow: AutoKeras' preprocessing needs it), one data set per process:

    var/bench-backends/bin/python bench/autokeras_peer.py NAME TASK TRIALS EPOCHS SEED

It prints one JSON object: {"score": test accuracy or RMSE, "seconds": ...} or {"error": ...}.
AutoKeras fits on train with validation data = the console's validation split, at the same
max_trials and epochs per trial, and is scored once on the same test rows.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _patch_shapes() -> None:
    """AutoKeras 3.0 hands numpy integers to Keras 3.15 layer shapes, which refuses them."""
    import keras

    original = keras.layers.Dense.__init__

    def dense_init(
        self: keras.layers.Dense, units: object, *args: object, **kwargs: object
    ) -> None:
        original(self, int(units), *args, **kwargs)  # type: ignore[call-overload]

    keras.layers.Dense.__init__ = dense_init
    from keras.src.layers.core import input_layer

    original_input = input_layer.InputLayer.__init__

    def input_init(self: Any, *args: Any, shape: Any = None, **kwargs: Any) -> None:
        if shape is not None:
            shape = tuple(None if d is None else int(d) for d in shape)
        original_input(self, *args, shape=shape, **kwargs)

    input_layer.InputLayer.__init__ = input_init


def main() -> None:
    name, task, trials, epochs, seed = sys.argv[1:6]
    import numpy as np
    from sklearn import datasets as skd

    from jobs.engine.data import TaskType
    from jobs.engine.search import SearchConfig, _split

    frame = getattr(skd, f"load_{name}")(as_frame=True).frame
    frame.columns = [str(c) for c in frame.columns]
    config = SearchConfig(
        target="target", task_type=cast(TaskType, task), max_trials=int(trials),
        max_epochs=int(epochs),
        seed=int(seed),
    )  # fmt: skip
    train, val, test = _split(frame, config)

    def xy(part: Any) -> tuple[np.ndarray, np.ndarray]:
        return part.drop(columns="target").to_numpy("float32"), part["target"].to_numpy()

    (x_train, y_train), (x_val, y_val), (x_test, y_test) = map(xy, (train, val, test))
    _patch_shapes()
    import autokeras as ak

    started = time.monotonic()
    with tempfile.TemporaryDirectory() as workdir:
        kind = ak.StructuredDataRegressor if task == "regression" else ak.StructuredDataClassifier
        model = kind(max_trials=int(trials), directory=workdir, overwrite=True, seed=int(seed))
        model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=int(epochs), verbose=0)
        predicted = np.asarray(model.predict(x_test, verbose=0)).reshape(len(x_test), -1)
    if task == "regression":
        score = float(np.sqrt(np.mean((predicted[:, 0].astype(float) - y_test) ** 2)))
    else:
        # AutoKeras answers labels as text ("1" or "1.0"); the targets here are numbers.
        score = float(np.mean(predicted[:, 0].astype(float) == y_test.astype(float)))
    print(json.dumps({"score": score, "seconds": round(time.monotonic() - started, 1)}))


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # a peer that fails is reported, not fatal to the benchmark
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"[:300]}))
