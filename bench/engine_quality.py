"""Engine quality: the console's search against scikit-learn's HistGradientBoosting and
AutoKeras 3.0 on data sets that scikit-learn ships, same splits, same trial budget.

    .venv/bin/python bench/engine_quality.py [--trials 10] [--epochs 60] [--seeds 0,1,2]

AutoKeras runs in the benchmark environment var/bench-backends (made on first use from
bench/requirements-backends.txt; it needs TensorFlow), through bench/autokeras_peer.py.

Each data set is split as the console splits it (seeded 60/20/20, stratified for classes);
the console searches on train and validation and is scored once on test; HistGradientBoosting
at default settings trains on train + validation and is scored on the same test rows;
AutoKeras searches on train with the validation split and is scored on the same test rows.
Scores are means over the seeds (each seed its own split). The last line is one JSON object:
`datasets` (each with its metric and the three scores), `worst_accuracy_ratio` (min over
classification sets of console / best baseline; target 0.99), `worst_rmse_ratio` (min over
regression sets of best baseline RMSE / console RMSE; target 0.95) and `worst_vs_autokeras`
(the same ratio against AutoKeras alone; above 1 means ahead on every set).
"""

from __future__ import annotations

import argparse
import json
import subprocess
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
from jobs.engine.search import SearchConfig, run_search  # noqa: E402
from jobs.engine.split import split_by_target  # noqa: E402

SETS = {
    "breast_cancer": (skd.load_breast_cancer, "binary"),
    "wine": (skd.load_wine, "multiclass"),
    "iris": (skd.load_iris, "multiclass"),
    "digits": (skd.load_digits, "multiclass"),
    "diabetes": (skd.load_diabetes, "regression"),
}


class QuietReporter:
    def trial_started(self, number: int, hyperparameters: dict[str, Any]) -> None: ...

    def epoch_end(self, number: int, epoch: int, metrics: dict[str, float]) -> None: ...

    def trial_finished(self, *args: Any, **kwargs: Any) -> None: ...

    def cancelled(self) -> bool:
        return False


def _baseline(frame: pd.DataFrame, config: SearchConfig) -> float:
    train, val, test = split_by_target(frame, config)
    fit = pd.concat([train, val])
    x_fit, y_fit = fit.drop(columns="target"), fit["target"]
    x_test, y_test = test.drop(columns="target"), test["target"]
    if config.task_type == "regression":
        model = HistGradientBoostingRegressor(random_state=config.seed).fit(x_fit, y_fit)
        return float(np.sqrt(np.mean((model.predict(x_test) - y_test) ** 2)))
    classifier = HistGradientBoostingClassifier(random_state=config.seed).fit(x_fit, y_fit)
    return float(np.mean(classifier.predict(x_test) == y_test))


def _autokeras(name: str, task: str, config: SearchConfig) -> dict[str, Any]:
    """AutoKeras in the benchmark environment (it needs TensorFlow), same splits and budget."""
    from bench.engine_backends import _ensure_venv

    python = _ensure_venv()
    command = [str(python), str(ROOT / "bench" / "autokeras_peer.py"), name, task]
    command += [str(config.max_trials), str(config.max_epochs), str(config.seed)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    lines = done.stdout.strip().splitlines()
    if not lines:
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1][:300]}
    return dict(json.loads(lines[-1]))


def _mean(values: list[float]) -> float:
    return round(float(np.mean(values)), 4)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seeds", default="0", help="comma-separated seeds; scores are means")
    parser.add_argument("--no-autokeras", action="store_true")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    results: dict[str, Any] = {}
    for name, (loader, task) in SETS.items():
        frame = loader(as_frame=True).frame
        frame.columns = [str(c) for c in frame.columns]
        metric = "rmse" if task == "regression" else "accuracy"
        console, hgb, peer, seconds, peer_seconds, peer_errors = [], [], [], [], [], []
        for seed in seeds:
            config = SearchConfig(
                target="target",
                task_type=task,  # type: ignore[arg-type]
                max_trials=args.trials,
                max_epochs=args.epochs,
                seed=seed,
            )
            started = time.monotonic()
            with tempfile.TemporaryDirectory() as workdir:
                result = run_search(frame, config, workdir=Path(workdir), reporter=QuietReporter())
            seconds.append(time.monotonic() - started)
            console.append(float(result.test_metrics[metric]))
            hgb.append(_baseline(frame, config))
            if not args.no_autokeras:
                answer = _autokeras(name, task, config)
                if "error" in answer:
                    peer_errors.append(answer["error"])
                else:
                    peer.append(float(answer["score"]))
                    peer_seconds.append(float(answer["seconds"]))
        results[name] = {
            "metric": metric,
            "console": _mean(console),
            "hist_gradient_boosting": _mean(hgb),
            "autokeras": _mean(peer) if peer and not peer_errors else None,
            "console_seconds": round(float(np.mean(seconds)), 1),
            "autokeras_seconds": round(float(np.mean(peer_seconds)), 1) if peer else None,
            "per_seed": {"console": console, "hist_gradient_boosting": hgb, "autokeras": peer},
        }
        if peer_errors:
            results[name]["autokeras_error"] = peer_errors[0]
        print(name, results[name], flush=True)

    def best(r: dict[str, Any]) -> float:
        scores = [s for s in (r["hist_gradient_boosting"], r["autokeras"]) if s is not None]
        return max(scores) if r["metric"] == "accuracy" else min(scores)

    classification = [r for r in results.values() if r["metric"] == "accuracy"]
    regression = [r for r in results.values() if r["metric"] == "rmse"]
    with_peer = [r for r in results.values() if r["autokeras"] is not None]
    summary = {
        "datasets": results,
        "worst_accuracy_ratio": round(min(r["console"] / best(r) for r in classification), 4),
        "worst_rmse_ratio": round(min(best(r) / r["console"] for r in regression), 4),
        # Above 1 on every set: the console is ahead of AutoKeras everywhere.
        "worst_vs_autokeras": round(
            min(
                r["console"] / r["autokeras"]
                if r["metric"] == "accuracy"
                else r["autokeras"] / r["console"]
                for r in with_peer
            ),
            4,
        )
        if with_peer
        else None,
        "budget": {"max_trials": args.trials, "max_epochs": args.epochs, "seeds": seeds},
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
