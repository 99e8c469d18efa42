"""Engine overhead: the same search through the running console and as a bare Keras Tuner script.

    .venv/bin/python bench/engine_overhead.py [--trials 8] [--epochs 10] [--repeats 3]

scikit-learn's breast_cancer table is written to a CSV. The console side starts the real
console (`runconsole`, embedded mode: web, worker, predictor), then for each run uploads the
CSV through the REST API, waits for its profile, starts a job (random tuner, seed 0) and
waits until the job has SUCCEEDED with a registered model version: its wall time is upload
-> model version. The bare side is a fresh Python process that reads the same CSV, makes the
same seeded 60/20/20 split, standardises the columns on the training rows, and runs
keras_tuner.RandomSearch directly over the same space (1-3 dense layers of 16-128 units,
dropout 0-0.4, log learning rate 1e-4..1e-2; objective val_loss, early stopping patience 5,
batch 32), then evaluates the best model on the test rows and saves it as a .keras file: its
wall time is process start -> model saved. Runs alternate; each figure is the median.

The console does more than the bare script (profiling, class checks, evaluation with
permutation importance, ensembling the top three, the manifest, registration); the target is
console_vs_bare <= 1.10. The last line is one JSON object with console_vs_bare.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import connect
from websockets.typing import Origin

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.datasets import _console  # noqa: E402

SEED = 0


def write_csv(path: Path, target: str) -> None:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    frame = data.frame.drop(columns="target")
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    frame[target] = data.frame["target"].map({0: "malignant", 1: "benign"})
    frame.to_csv(path, index=False)


def bare(csv: Path, target: str, trials: int, epochs: int, workdir: Path) -> dict[str, Any]:
    """The search as a person would write it with Keras Tuner alone (no console code)."""
    t0 = time.monotonic()
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    import keras_tuner as kt
    import numpy as np
    import pandas as pd
    from sklearn.model_selection import train_test_split

    imported = time.monotonic()
    keras.utils.set_random_seed(SEED)
    frame = pd.read_csv(csv)
    labels = sorted(frame[target].astype(str).unique())
    y = frame[target].astype(str).map({label: i for i, label in enumerate(labels)}).to_numpy()
    x = frame.drop(columns=target).to_numpy(dtype="float32")
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=0.2, random_state=SEED, stratify=y
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=0.25, random_state=SEED, stratify=y_rest
    )
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-7

    def build(hp: kt.HyperParameters) -> keras.Model:
        inputs = keras.Input(shape=(x.shape[1],))
        h = keras.layers.Normalization(mean=mean, variance=std**2)(inputs)
        for i in range(hp.Int("layers", 1, 3)):
            h = keras.layers.Dense(hp.Choice(f"units_{i}", [16, 32, 64, 128]), "relu")(h)
            h = keras.layers.Dropout(hp.Float(f"dropout_{i}", 0.0, 0.4, step=0.1))(h)
        outputs = keras.layers.Dense(len(labels), activation="softmax")(h)
        model = keras.Model(inputs, outputs)
        learning_rate = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")
        model.compile(
            keras.optimizers.Adam(learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    tuner = kt.RandomSearch(
        build,
        objective="val_loss",
        max_trials=trials,
        seed=SEED,
        directory=str(workdir),
        project_name="bare",
        overwrite=True,
    )
    searching = time.monotonic()
    tuner.search(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        epochs=epochs,
        batch_size=32,
        callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=5)],
        verbose=0,
    )
    searched = time.monotonic()
    best = tuner.get_best_models(1)[0]
    predicted = np.argmax(keras.ops.convert_to_numpy(best.predict(x_test, verbose=0)), axis=1)
    best.save(workdir / "model.keras")
    return {
        "import_s": round(imported - t0, 2),
        "until_search_s": round(searching - imported, 2),
        "search_s": round(searched - searching, 2),
        "after_search_s": round(time.monotonic() - searched, 2),
        "accuracy": float((predicted == y_test).mean()),
    }


def run_bare(csv: Path, target: str, trials: int, epochs: int, workdir: Path) -> tuple[float, Any]:
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    t0 = time.monotonic()
    out = subprocess.run(
        [sys.executable, __file__, "--bare", str(csv), "--target", target,
         "--trials", str(trials), "--epochs", str(epochs), "--workdir", str(workdir)],
        check=True, capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    seconds = time.monotonic() - t0
    return seconds, json.loads(out.stdout.strip().splitlines()[-1])


def _wait(client: httpx.Client, path: str, done: tuple[str, ...]) -> dict[str, Any]:
    while True:
        found: dict[str, Any] = client.get(path).json()
        if found["status"] in done:
            return found
        time.sleep(0.1)


def run_console(
    client: httpx.Client, csv: Path, target: str, trials: int, epochs: int
) -> tuple[float, dict[str, Any]]:
    t0 = time.monotonic()
    with csv.open("rb") as body:
        created = client.post("/api/v1/datasets/", files={"file": (csv.name, body, "text/csv")})
    assert created.status_code in (200, 201), created.text
    dataset = _wait(client, f"/api/v1/datasets/{created.json()['id']}/", ("READY", "FAILED"))
    assert dataset["status"] == "READY", dataset["error"]
    profiled = time.monotonic()
    answer = client.post(
        "/api/v1/jobs/",
        json={"dataset": dataset["id"], "target": target, "max_trials": trials,
              "max_epochs": epochs, "tuner": "random"},
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    job_posted = time.monotonic()
    # Watched as the UI watches it, over the websocket: polling the API every few ms would take
    # CPU from the training on a two-core machine.
    job_id = answer.json()["id"]
    ws_url = f"{str(client.base_url).replace('http', 'ws', 1).rstrip('/')}/ws/jobs/{job_id}/"
    token = client.headers["Authorization"].split()[1]
    origin = str(client.base_url).rstrip("/")
    with connect(f"{ws_url}?token={token}", origin=Origin(origin), open_timeout=30) as ws:
        while json.loads(ws.recv(timeout=600))["kind"] != "job_finished":
            pass
    seconds = time.monotonic() - t0
    job = client.get(f"/api/v1/jobs/{job_id}/").json()
    assert job["status"] == "SUCCEEDED", job["error"]
    assert job["model_version"] is not None
    events = client.get(f"/api/v1/jobs/{job['id']}/events/").json()
    stamp = lambda e: datetime.fromisoformat(e["created_at"])  # noqa: E731
    first: dict[str, datetime] = {}
    for e in events:
        key = e["kind"] if e["kind"] != "job_status" else f"status_{e['payload']['status']}"
        first.setdefault(key, stamp(e))
    last_trial = max(stamp(e) for e in events if e["kind"] == "trial_finished")
    created_at = datetime.fromisoformat(job["created_at"])
    breakdown = {
        "upload_and_profile_s": round(profiled - t0, 2),
        "job_post_s": round(job_posted - profiled, 2),
        "bench_saw_end_s": round(seconds - (job_posted - t0), 2),
        "claim_s": round((first["status_RUNNING"] - created_at).total_seconds(), 2),
        "until_first_trial_s": round(
            (first["trial_started"] - first["status_RUNNING"]).total_seconds(), 2
        ),
        "trials_s": round((last_trial - first["trial_started"]).total_seconds(), 2),
        "after_last_trial_s": round((first["job_finished"] - last_trial).total_seconds(), 2),
        "job_s": round((first["job_finished"] - created_at).total_seconds(), 2),
        "accuracy": job["test_metrics"]["accuracy"],
        "source": job["manifest"].get("final_model", {}).get("source"),
    }
    return seconds, breakdown


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "bench-eo")
    parser.add_argument("--bare", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--target", default="diagnosis", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        print(json.dumps(bare(args.bare, args.target, args.trials, args.epochs, args.workdir)))
        return

    workdir: Path = args.workdir
    shutil.rmtree(workdir, ignore_errors=True)
    (workdir / "console").mkdir(parents=True)
    proc, url, token = _console(workdir)
    bare_runs, console_runs, bare_imports = [], [], []
    try:
        client = httpx.Client(base_url=url, headers={"Authorization": f"Token {token}"},
                              timeout=600)  # fmt: skip
        for i in range(args.repeats):
            # A new target name per run makes a new file, so every run uploads and profiles.
            target = f"diagnosis_{i}"
            csv = workdir / f"breast_cancer_{i}.csv"
            write_csv(csv, target)
            seconds, extra = run_bare(csv, target, args.trials, args.epochs, workdir / "bare")
            bare_runs.append(seconds)
            bare_imports.append(extra["import_s"])
            print(f"bare    run {i + 1}: {seconds:6.2f} s  {extra}", flush=True)
            seconds, extra = run_console(client, csv, target, args.trials, args.epochs)
            console_runs.append(seconds)
            print(f"console run {i + 1}: {seconds:6.2f} s  {extra}", flush=True)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    console_s, bare_s = statistics.median(console_runs), statistics.median(bare_runs)
    # The bare script pays its imports each run; the console's worker imported them once.
    bare_warm_s = statistics.median(b - i for b, i in zip(bare_runs, bare_imports, strict=True))
    print(f"console {console_s:.2f} s, bare Keras Tuner {bare_s:.2f} s (medians)")
    result = {
        "console_vs_bare": round(console_s / bare_s, 3),
        "console_vs_bare_without_its_imports": round(console_s / bare_warm_s, 3),
        "console_s": round(console_s, 2),
        "bare_s": round(bare_s, 2),
        "console_runs_s": [round(t, 2) for t in console_runs],
        "bare_runs_s": [round(t, 2) for t in bare_runs],
        "trials": args.trials,
        "epochs": args.epochs,
    }
    shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
