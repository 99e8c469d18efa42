"""Engine quality: the console's search against scikit-learn's HistGradientBoosting (and
AutoKeras where it is installed) on data sets that scikit-learn ships, same splits.

    .venv/bin/python bench/engine_quality.py [--trials 10] [--epochs 60]

Each data set is split as the console splits it (seeded 60/20/20, stratified for classes);
the console searches on train and validation and is scored once on test; HistGradientBoosting
at default settings trains on train + validation and is scored on the same test rows. The
last line is one JSON object: `datasets` (each with its metric and the three scores),
`worst_accuracy_ratio` (min over classification sets of console / best baseline; target
0.99) and `worst_rmse_ratio` (min over regression sets of best baseline RMSE / console RMSE;
target 0.95).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import datasets as skd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import jobs.engine  # noqa: E402,F401  (selects the Keras backend)
from jobs.engine.search import SearchConfig, _split, run_search  # noqa: E402

SETS = {
    "breast_cancer": (skd.load_breast_cancer, "binary"),
    "wine": (skd.load_wine, "multiclass"),
    "iris": (skd.load_iris, "multiclass"),
    "digits": (skd.load_digits, "multiclass"),
    "diabetes": (skd.load_diabetes, "regression"),
}


class _Quiet:
    def trial_started(self, number: int, hyperparameters: dict[str, Any]) -> None: ...

    def epoch_end(self, number: int, epoch: int, metrics: dict[str, float]) -> None: ...

    def trial_finished(self, *args: Any, **kwargs: Any) -> None: ...

    def cancelled(self) -> bool:
        return False


def _baseline(frame: pd.DataFrame, config: SearchConfig) -> float:
    train, val, test = _split(frame, config)
    fit = pd.concat([train, val])
    x_fit, y_fit = fit.drop(columns="target"), fit["target"]
    x_test, y_test = test.drop(columns="target"), test["target"]
    if config.task_type == "regression":
        model = HistGradientBoostingRegressor(random_state=config.seed).fit(x_fit, y_fit)
        return float(np.sqrt(np.mean((model.predict(x_test) - y_test) ** 2)))
    classifier = HistGradientBoostingClassifier(random_state=config.seed).fit(x_fit, y_fit)
    return float(np.mean(classifier.predict(x_test) == y_test))


def _autokeras() -> str | None:
    try:
        import autokeras  # noqa: F401
    except ImportError as exc:
        return f"not installed ({exc})"
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=60)
    args = parser.parse_args()
    autokeras_missing = _autokeras()
    results: dict[str, Any] = {}
    for name, (loader, task) in SETS.items():
        frame = loader(as_frame=True).frame
        frame.columns = [str(c) for c in frame.columns]
        config = SearchConfig(
            target="target",
            task_type=task,  # type: ignore[arg-type]
            max_trials=args.trials,
            max_epochs=args.epochs,
        )
        started = time.monotonic()
        with tempfile.TemporaryDirectory() as workdir:
            result = run_search(frame, config, workdir=Path(workdir), reporter=_Quiet())
        seconds = time.monotonic() - started
        metric = "rmse" if task == "regression" else "accuracy"
        results[name] = {
            "metric": metric,
            "console": round(float(result.test_metrics[metric]), 4),
            "hist_gradient_boosting": round(_baseline(frame, config), 4),
            "autokeras": None,
            "console_seconds": round(seconds, 1),
            "console_source": result.source,
        }
        print(name, results[name], flush=True)
    classification = [r for r in results.values() if r["metric"] == "accuracy"]
    regression = [r for r in results.values() if r["metric"] == "rmse"]
    summary = {
        "datasets": results,
        "worst_accuracy_ratio": round(
            min(r["console"] / r["hist_gradient_boosting"] for r in classification), 4
        ),
        "worst_rmse_ratio": round(
            min(r["hist_gradient_boosting"] / r["console"] for r in regression), 4
        ),
        "autokeras": autokeras_missing or "installed",
        "budget": {"max_trials": args.trials, "max_epochs": args.epochs},
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
