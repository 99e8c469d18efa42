"""Which tuner per task type: random, Bayesian and Hyperband on the same data and budget.

    .venv/bin/python bench/engine_tuners.py [--trials 6] [--epochs 15] [--seeds 0,1]

For each task type the console trains (tables: binary, multiclass, regression, multi-label;
text; images; forecasting) the engine searches the same data with each tuner at the same
`max_trials` and `max_epochs`, seeded, and scores the final model once on the test split.
Data: scikit-learn's bundled sets for tables and images (digits as a zip of PNGs), and
generated sets with noise for text, multi-label and forecasting (so that tuners can differ).
The default per task type is the tuner with the best mean test score; a tie (within 0.5% of
the score) goes to the faster. The last line is one JSON object: `results` (per task type and
tuner: mean score, mean seconds) and `defaults` (task type -> tuner), which
`jobs/engine/config.py`'s DEFAULT_TUNERS records.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import datasets as skd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import jobs.engine  # noqa: E402,F401  (selects the Keras backend)
from bench.engine_backends import _digits_zip  # noqa: E402
from bench.engine_quality import QuietReporter  # noqa: E402
from jobs.engine.config import TUNERS  # noqa: E402
from jobs.engine.search import SearchConfig, SearchResult, run_image_search, run_search  # noqa: E402

WORDS = ["film", "plot", "acting", "music", "story", "scene", "cast", "ending", "pace"]
GOOD, BAD = ["great", "fine", "lovely", "fun"], ["dull", "poor", "slow", "weak"]


def _frame(loader: Callable[..., Any]) -> pd.DataFrame:
    frame = loader(as_frame=True).frame
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _reviews(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Reviews whose sentiment words lean one way, with 15% of labels flipped."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        positive = rng.random() < 0.5
        lean = GOOD if positive else BAD
        other = BAD if positive else GOOD
        words = [*rng.choice(WORDS, 6), *rng.choice(lean, 2), *rng.choice(other, 1)]
        rng.shuffle(words)
        label = positive if rng.random() > 0.15 else not positive
        rows.append({"review": " ".join(words), "sentiment": "pos" if label else "neg"})
    return pd.DataFrame(rows)


def _tagged(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Three features and labels from noisy thresholds: a row holds zero to three labels."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    noisy = x + rng.normal(0, 0.5, size=x.shape)
    tags = [
        ";".join(t for t, on in zip(("red", "green", "blue"), row > 0.3, strict=True) if on)
        for row in noisy
    ]
    return pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "tags": tags})


def _series(n: int = 500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return pd.DataFrame({
        "day": pd.date_range("2024-01-01", periods=n, freq="D").astype(str),
        "temperature": np.sin(t / 5) + rng.normal(0, 0.2, n),
        "sales": 10 + 3 * np.sin(t / 5 + 0.5) + 0.01 * t + rng.normal(0, 0.5, n),
    })  # fmt: skip


# task type -> (data, search options, metric, higher is better)
TASKS: dict[str, tuple[Callable[[], Any], dict[str, Any], str, bool]] = {
    "binary": (lambda: _frame(skd.load_breast_cancer), {"target": "target"}, "accuracy", True),
    "multiclass": (lambda: _frame(skd.load_wine), {"target": "target"}, "accuracy", True),
    "regression": (lambda: _frame(skd.load_diabetes), {"target": "target"}, "rmse", False),
    "multilabel": (_tagged, {"target": "tags"}, "micro_f1", True),
    "text": (
        _reviews,
        {"target": "sentiment", "text_column": "review", "task_type": "binary"},
        "accuracy",
        True,
    ),
    "image": (lambda: None, {"target": "label", "task_type": "multiclass"}, "accuracy", True),
    "forecasting": (
        _series,
        {"target": "sales", "timestamp_column": "day", "horizon": 1},
        "rmse",
        False,
    ),
}


def _search(task: str, tuner: str, seed: int, trials: int, epochs: int) -> tuple[float, float]:
    load, options, metric, _ = TASKS[task]
    options = {"task_type": task, **options}
    config = SearchConfig(**options, max_trials=trials, max_epochs=epochs, seed=seed, tuner=tuner)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as workdir:
        result: SearchResult
        if task == "image":
            archive = Path(workdir) / "digits.zip"
            _digits_zip(archive)
            started = time.monotonic()
            result = run_image_search(
                archive, config, workdir=Path(workdir), reporter=QuietReporter()
            )
        else:
            result = run_search(load(), config, workdir=Path(workdir), reporter=QuietReporter())
    return float(result.test_metrics[metric]), time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--tasks", default=",".join(TASKS))
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    results: dict[str, dict[str, dict[str, float]]] = {}
    defaults: dict[str, str] = {}
    for task in args.tasks.split(","):
        higher = TASKS[task][3]
        results[task] = {}
        for tuner in TUNERS:
            runs = [_search(task, tuner, seed, args.trials, args.epochs) for seed in seeds]
            results[task][tuner] = {
                "score": round(float(np.mean([r[0] for r in runs])), 4),
                "seconds": round(float(np.mean([r[1] for r in runs])), 1),
            }
            print(task, tuner, results[task][tuner], flush=True)
        scores = {t: results[task][t]["score"] for t in TUNERS}
        target = max(scores.values()) if higher else min(scores.values())
        near = [
            t
            for t in TUNERS
            if (scores[t] >= target * 0.995 if higher else scores[t] <= target * 1.005)
        ]
        defaults[task] = min(near, key=lambda t: results[task][t]["seconds"])
    print(json.dumps({"results": results, "defaults": defaults, "seeds": seeds}))


if __name__ == "__main__":
    main()
