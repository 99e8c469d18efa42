"""What a recurrent forecaster costs on this machine's CPU beside an MLP and a CNN, by window
length: the measurement behind RECURRENT_CPU_LOOKBACK (jobs/engine/tasks/forecast.py).

    .venv/bin/python bench/recurrent_cpu.py [--windows 12,48,168] [--rows 4000]

One epoch of random windows of 3 columns, 64 units (128 for the MLP), batch 32, after a warm-up
fit. The last line is one JSON object: seconds per epoch by window and kind, and the GRU's and
LSTM's ratio to the CNN at each window."""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import numpy as np

KINDS = ("mlp", "cnn", "gru", "lstm")


def epoch_seconds(kind: str, window: int, rows: int) -> float:
    inputs = keras.Input((window, 3))
    if kind == "mlp":
        x = keras.layers.Dense(128, activation="relu")(keras.layers.Flatten()(inputs))
    elif kind == "cnn":
        x = keras.layers.Conv1D(64, 3, padding="causal", activation="relu")(inputs)
        x = keras.layers.Conv1D(64, 3, padding="causal", activation="relu")(x)
        x = keras.layers.GlobalAveragePooling1D()(x)
    else:
        x = (keras.layers.GRU if kind == "gru" else keras.layers.LSTM)(64)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    model.compile("adam", "mse")
    rng = np.random.default_rng(0)
    xs = rng.random((rows, window, 3), dtype="float32")
    ys = rng.random((rows, 1), dtype="float32")
    model.fit(xs[:64], ys[:64], epochs=1, verbose=0)
    started = time.perf_counter()
    model.fit(xs, ys, epochs=1, batch_size=32, verbose=0)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", default="12,48,168")
    parser.add_argument("--rows", type=int, default=4000)
    args = parser.parse_args()
    seconds: dict[str, dict[str, float]] = {}
    for window in (int(w) for w in args.windows.split(",")):
        row = {kind: round(epoch_seconds(kind, window, args.rows), 2) for kind in KINDS}
        seconds[str(window)] = row
        print(f"window {window:4d}: " + "  ".join(f"{k} {v:6.2f} s" for k, v in row.items()))
    ratios = {
        w: {k: round(row[k] / row["cnn"], 2) for k in ("gru", "lstm")} for w, row in seconds.items()
    }
    print(json.dumps({"seconds": seconds, "recurrent_over_cnn": ratios}))


if __name__ == "__main__":
    main()
