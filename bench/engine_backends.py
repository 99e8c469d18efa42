"""Keras backends side by side: the console's tabular search and a small image search under
KERAS_BACKEND torch, tensorflow and jax, in one run, on this machine.

    .venv/bin/python bench/engine_backends.py [--trials 8] [--epochs 10]

The backends live in their own environment (var/bench-backends, made from
bench/requirements-backends.txt on first use), so the console's own install stays torch-only.
Each backend runs in a fresh process, which measures:
- search_s: the console's tabular search (jobs.engine.search.run_search) on breast_cancer,
  `trials` trials x `epochs` epochs, seeded: what a user waits for, compile costs included;
- mlp_rows_per_s: steady training throughput of a 2x128 MLP on 100k rows (the second epoch);
- cnn_images_per_s: steady training throughput of a small CNN on 32x32x3 images;
- image_search_s: the console's image search (jobs.engine.search.run_image_search) on
  scikit-learn's digits as a zip of PNGs, trials / 2 CNNs x epochs / 2 epochs;
- peak_rss_mb: the process' peak resident memory.
The last line is one JSON object: `backends` (the figures per backend) and `default`, the
backend with the shortest tabular plus image search time (what a user of this console waits
for, on small data, is mostly per-trial cost).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "var" / "bench-backends"
BACKENDS = ("torch", "tensorflow", "jax")


def _ensure_venv() -> Path:
    python = VENV / "bin" / "python"
    marker = VENV / ".installed"
    requirements = ROOT / "bench" / "requirements-backends.txt"
    if marker.exists() and marker.stat().st_mtime >= requirements.stat().st_mtime:
        return python
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    env = {**os.environ}
    if Path("/opt/wheels").is_dir():
        env.setdefault("PIP_FIND_LINKS", "/opt/wheels")  # the CPU build of torch
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-r", str(requirements)], check=True, env=env
    )
    marker.touch()
    return python


def _tabular_search(trials: int, epochs: int) -> dict[str, Any]:
    from sklearn.datasets import load_breast_cancer

    from bench.engine_quality import QuietReporter
    from jobs.engine.search import SearchConfig, run_search

    frame = load_breast_cancer(as_frame=True).frame
    config = SearchConfig(
        target="target", task_type="binary", max_trials=trials, max_epochs=epochs, seed=0
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as workdir:
        result = run_search(frame, config, workdir=Path(workdir), reporter=QuietReporter())
    return {
        "search_s": round(time.perf_counter() - started, 2),
        "search_accuracy": round(float(result.test_metrics["accuracy"]), 4),
    }


def _throughput(model: Any, x: Any, y: Any, batch_size: int) -> float:
    model.fit(x, y, epochs=1, batch_size=batch_size, verbose=0)  # compile and warm up
    started = time.perf_counter()
    model.fit(x, y, epochs=1, batch_size=batch_size, verbose=0)
    return len(x) / (time.perf_counter() - started)


def _steady() -> dict[str, float]:
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(100_000, 30)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("float32")
    mlp = keras.Sequential(
        [
            keras.Input((30,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    mlp.compile("adam", "binary_crossentropy")
    rows = _throughput(mlp, x, y, 256)
    images = rng.random((2048, 32, 32, 3), dtype=np.float32)
    labels = rng.integers(0, 10, 2048)
    cnn = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    cnn.compile("adam", "sparse_categorical_crossentropy")
    per_s = _throughput(cnn, images, labels, 64)
    return {"mlp_rows_per_s": round(rows), "cnn_images_per_s": round(per_s)}


def _digits_zip(path: Path) -> None:
    """scikit-learn's digits as a zip of <class>/<image>.png, as a user would upload them."""
    import io
    import zipfile

    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    with zipfile.ZipFile(path, "w") as archive:
        for i, (pixels, label) in enumerate(zip(digits.images, digits.target, strict=True)):
            image = Image.fromarray((pixels * 15.9).astype(np.uint8)).resize((16, 16))
            buffer = io.BytesIO()
            image.save(buffer, "PNG")
            archive.writestr(f"{label}/{i}.png", buffer.getvalue())


def _image_search(trials: int, epochs: int) -> dict[str, Any]:
    from bench.engine_quality import QuietReporter
    from jobs.engine.search import SearchConfig, run_image_search

    config = SearchConfig(
        target="label", task_type="multiclass", max_trials=trials, max_epochs=epochs, seed=0
    )
    with tempfile.TemporaryDirectory() as workdir:
        archive = Path(workdir) / "digits.zip"
        _digits_zip(archive)
        started = time.perf_counter()
        result = run_image_search(archive, config, workdir=Path(workdir), reporter=QuietReporter())
        seconds = time.perf_counter() - started
    return {
        "image_search_s": round(seconds, 2),
        "image_accuracy": round(float(result.test_metrics["accuracy"]), 4),
    }


def _child(trials: int, epochs: int) -> None:
    sys.path.insert(0, str(ROOT))
    import keras

    figures: dict[str, Any] = {"backend": keras.backend.backend()}
    figures |= _tabular_search(trials, epochs)
    figures |= _image_search(max(1, trials // 2), max(1, epochs // 2))
    figures |= _steady()
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.trials, args.epochs)
        return
    python = _ensure_venv()
    results: dict[str, Any] = {}
    for backend in BACKENDS:
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
        # The same fair footing for all: no GPU, and jax not grabbing memory up front.
        env |= {"CUDA_VISIBLE_DEVICES": "", "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
        command = [str(python), __file__, "--child", "--trials", str(args.trials)]
        command += ["--epochs", str(args.epochs)]
        done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
        if done.returncode != 0:
            results[backend] = {"error": done.stderr.strip().splitlines()[-1][:300]}
        else:
            results[backend] = json.loads(done.stdout.strip().splitlines()[-1])
        print(backend, results[backend], flush=True)
    ran = {b: r for b, r in results.items() if "error" not in r}
    default = min(ran, key=lambda b: ran[b]["search_s"] + ran[b]["image_search_s"], default=None)
    print(json.dumps({"backends": results, "default": default}))


if __name__ == "__main__":
    main()
