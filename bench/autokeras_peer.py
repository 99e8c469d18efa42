"""AutoKeras 3.0 as the benchmarks' peer, one data set per process.

Run in the benchmark environment (var/bench-backends, which has TensorFlow: AutoKeras'
preprocessing needs it), two ways:

    var/bench-backends/bin/python bench/autokeras_peer.py NAME TASK TRIALS EPOCHS SEED
    var/bench-backends/bin/python bench/autokeras_peer.py --csv TRAIN TEST TARGET TASK \
        BUDGET_S SEED

The first (bench/engine_quality.py) loads a scikit-learn set by name and splits it as the
console does (seeded 60/20/20); AutoKeras fits on train with validation data = the console's
validation split, at the same max_trials and epochs per trial, and is scored once on test.

The second (bench/engine_real.py) reads a train and a test part written as CSV and gives
AutoKeras a wall-clock budget, which AutoKeras itself does not have: max_trials 1000 and its
own adaptive epochs (epochs=None: up to 1000 with early stopping, patience 10), plus a Keras
callback that, once BUDGET_S seconds have passed since the search began, stops the running
trial after its current batch (the trial is recorded with the epochs it finished) and lowers
the oracle's max_trials to the trials already made, so no new trial starts. AutoKeras then
does what it does after any search: it retrains the best trial's model on train + its
validation split for the best trial's epochs (the callback lets that run), and that model is
scored. `seconds` is the whole time, that final fit included; `search_seconds` the search.
AutoKeras 3.0's structured-data input takes numbers only (its categorical encoding is gone),
so the columns are encoded here: text columns one-hot over the training part's values (a
missing value is its own value, an unseen one all zeros), numeric columns as floats with
missing values set to the training median plus a 0/1 column saying which were missing.
AutoKeras holds out 20% of the training part for validation (its default).

It prints one JSON object: {"score": test accuracy or RMSE, "seconds": ...} or {"error": ...}.
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

MANY_TRIALS = 1000


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


def _deadline_callback(deadline: float, oracle: Any) -> Any:
    """Stops the running trial at `deadline` and lets no new trial start (see the module)."""
    import keras

    class Deadline(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.fired = False
            self.final_fit_at: float | None = None

        def __deepcopy__(self, memo: dict[int, Any]) -> Deadline:
            # Keras Tuner deep-copies the callbacks for every trial; the deadline is one.
            return self

        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            if self.fired and self.final_fit_at is None:
                self.final_fit_at = time.monotonic()

        def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            # Once fired it stays quiet: the next fit is AutoKeras' final fit of the best model.
            if not self.fired and time.monotonic() >= deadline:
                self.fired = True
                self.model.stop_training = True
                oracle.max_trials = len(oracle.trials)

    return Deadline()


def fit_and_score(
    x_train: Any,
    y_train: Any,
    x_test: Any,
    y_test: Any,
    task: str,
    *,
    seed: int,
    max_trials: int,
    epochs: int | None,
    validation_data: tuple[Any, Any] | None = None,
    budget_s: float | None = None,
) -> dict[str, Any]:
    import numpy as np

    _patch_shapes()
    import autokeras as ak

    started = time.monotonic()
    with tempfile.TemporaryDirectory() as workdir:
        kind = ak.StructuredDataRegressor if task == "regression" else ak.StructuredDataClassifier
        model = kind(max_trials=max_trials, directory=workdir, overwrite=True, seed=seed)
        callbacks = []
        deadline = None
        if budget_s is not None:
            deadline = _deadline_callback(started + budget_s, model.tuner.oracle)
            callbacks.append(deadline)
        fit: dict[str, Any] = {"epochs": epochs, "verbose": 0, "callbacks": callbacks}
        if validation_data is not None:
            fit["validation_data"] = validation_data
        model.fit(x_train, y_train, **fit)
        predicted = np.asarray(model.predict(x_test, verbose=0)).reshape(len(x_test), -1)
        trials = len(model.tuner.oracle.trials)
    seconds = time.monotonic() - started
    if task == "regression":
        score = float(np.sqrt(np.mean((predicted[:, 0].astype(float) - y_test) ** 2)))
    elif np.issubdtype(np.asarray(y_test).dtype, np.number):
        # AutoKeras answers labels as text ("1" or "1.0"); these targets are numbers.
        score = float(np.mean(predicted[:, 0].astype(float) == y_test.astype(float)))
    else:
        score = float(np.mean(predicted[:, 0].astype(str) == np.asarray(y_test).astype(str)))
    answer: dict[str, Any] = {"score": score, "seconds": round(seconds, 1), "trials": trials}
    if deadline is not None:
        answer["stopped_at_deadline"] = deadline.fired
        if deadline.final_fit_at is not None:
            answer["search_seconds"] = round(deadline.final_fit_at - started, 1)
    return answer


def encode_columns(train: Any, test: Any) -> tuple[Any, Any]:
    """Both parts' feature columns as float32 arrays (see the module for how)."""
    import numpy as np
    import pandas as pd

    train_parts, test_parts = [], []
    for name in train.columns:
        fit, other = train[name], test[name]
        if pd.api.types.is_numeric_dtype(fit) and pd.api.types.is_numeric_dtype(other):
            fill = float(fit.median()) if fit.notna().any() else 0.0
            train_parts.append(fit.fillna(fill).to_numpy("float32")[:, None])
            test_parts.append(other.fillna(fill).to_numpy("float32")[:, None])
            if fit.isna().any() or other.isna().any():
                train_parts.append(fit.isna().to_numpy("float32")[:, None])
                test_parts.append(other.isna().to_numpy("float32")[:, None])
            continue
        fit, other = (part.astype(object).fillna("<missing>").astype(str) for part in (fit, other))
        values = sorted(fit.unique())
        train_parts.append(np.stack([(fit == v).to_numpy("float32") for v in values], axis=1))
        test_parts.append(np.stack([(other == v).to_numpy("float32") for v in values], axis=1))
    return np.concatenate(train_parts, axis=1), np.concatenate(test_parts, axis=1)


def csv_main(train_csv: str, test_csv: str, target: str, task: str, budget: str, seed: str) -> None:
    import pandas as pd

    train, test = pd.read_csv(train_csv), pd.read_csv(test_csv)
    x_train, x_test = encode_columns(train.drop(columns=target), test.drop(columns=target))
    answer = fit_and_score(
        x_train, train[target].to_numpy(), x_test, test[target].to_numpy(), task,
        seed=int(seed), max_trials=MANY_TRIALS, epochs=None, budget_s=float(budget),
    )  # fmt: skip
    print(json.dumps(answer))


def main() -> None:
    if sys.argv[1] == "--csv":
        csv_main(*sys.argv[2:8])
        return
    name, task, trials, epochs, seed = sys.argv[1:6]
    import numpy as np
    from sklearn import datasets as skd

    from jobs.engine.data import TaskType
    from jobs.engine.search import SearchConfig
    from jobs.engine.split import split_by_target

    frame = getattr(skd, f"load_{name}")(as_frame=True).frame
    frame.columns = [str(c) for c in frame.columns]
    config = SearchConfig(
        target="target", task_type=cast(TaskType, task), max_trials=int(trials),
        max_epochs=int(epochs),
        seed=int(seed),
    )  # fmt: skip
    train, val, test = split_by_target(frame, config)

    def xy(part: Any) -> tuple[np.ndarray, np.ndarray]:
        return part.drop(columns="target").to_numpy("float32"), part["target"].to_numpy()

    (x_train, y_train), (x_val, y_val), (x_test, y_test) = map(xy, (train, val, test))
    answer = fit_and_score(
        x_train, y_train, x_test, y_test, task, seed=int(seed), max_trials=int(trials),
        epochs=int(epochs), validation_data=(x_val, y_val),
    )  # fmt: skip
    print(json.dumps({"score": answer["score"], "seconds": answer["seconds"]}))


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # a peer that fails is reported, not fatal to the benchmark
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"[:300]}))
