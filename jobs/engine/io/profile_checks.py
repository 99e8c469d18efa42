"""Judgements on a finished profile: column types, the target and task, and the warnings.

Thresholds, chosen to flag what a data scientist would want to look at before training:
- identifier: integer or string values (without spaces) distinct on at least 99% of non-missing
  rows and more than 50 rows, or on 95% when the name says so (id, user_id, uuid, guid).
- text: strings where at least half the values, or more than 10,000, are distinct, and which
  are long (mean length over 30) or usually contain spaces (half the sampled values).
- image_path: 80% of sampled values end in .png, .jpg, .jpeg or .webp.
- high cardinality: a categorical with more than 100 distinct values and either more than
  1,000 or more than one per 20 rows, too many to one-hot encode or to learn each value.
- high missing share: more than 50% of rows; class imbalance: the rarest class under 10%;
  too few rows: a class with fewer than 10.
- leakage, on the row sample: a feature value that pins the class (purity at least 0.99 over
  values with 5+ rows), a single threshold that separates the classes with accuracy at least
  0.99, |Pearson r| at least 0.99 with a numeric target, or feature values explaining 98% of
  a numeric target's variance. Classification leaks must also cut the majority-class error
  five-fold, so a feature is not blamed for an imbalance it did not cause.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobs.engine.data import MAX_CLASSES_FROM_INTEGERS
from jobs.engine.io.profile_columns import ColumnStats

TYPES = (
    "numeric", "integer", "boolean", "categorical", "text", "datetime", "image_path",
    "identifier", "constant",
)  # fmt: skip
TARGET_NAMES = ("target", "label", "class", "y", "outcome")
NOT_TARGETS = ("identifier", "text", "constant", "datetime", "image_path")
FEATURE_TYPES = ("numeric", "integer", "boolean", "categorical")
CLASS_TYPES = ("boolean", "categorical", "text", "identifier", "image_path")
_ID_NAME = re.compile(r"(^|[_\-\s.])(id|uuid|guid)$|[a-z](Id|ID|Uuid|UUID)$", re.IGNORECASE)
_BOOLEAN_PAIRS = ({"true", "false"}, {"yes", "no"}, {"y", "n"}, {"t", "f"}, {"0", "1"})
_IMAGE = r"(?i)\.(png|jpe?g|webp)$"
MIN_ROWS_PER_VALUE = 5
MIN_LEAK_ROWS = 30


def _share(sample: pa.Array | None, pattern: str) -> float:
    values = None if sample is None else pc.drop_null(sample)
    if values is None or len(values) == 0:
        return 0.0
    return (pc.sum(pc.match_substring_regex(values, pattern)).as_py() or 0) / len(values)


def infer_type(
    col: ColumnStats, distinct: int, approximate: bool, values: list[Any], sample: pa.Array | None
) -> str:
    """values: the distinct values when there are at most a few, else empty."""
    valid = col.valid_count
    if col.kind == "null" or distinct <= 1:
        return "constant"
    if col.kind == "datetime":
        return "datetime"
    lowered = {str(v).strip().lower() for v in values}
    two_flags = distinct == 2 and any(lowered <= pair for pair in _BOOLEAN_PAIRS)
    if col.kind == "boolean" or (two_flags and not col.is_float):
        return "boolean"
    unique_share = distinct / valid
    named_id = bool(_ID_NAME.search(col.name))
    # Past the cap the count is a sketch's estimate, within 5% (three standard errors).
    unique = unique_share >= (0.95 if approximate else 0.99)
    looks_unique = (unique and valid > 50) or (named_id and unique_share >= 0.95)
    if col.kind == "numeric":
        if col.is_float:
            return "numeric"
        return "identifier" if looks_unique else "integer"
    if col.kind != "string":
        return "categorical"
    if _share(sample, _IMAGE) >= 0.8:
        return "image_path"
    spaces = _share(sample, r"\s")
    if looks_unique and spaces < 0.1:
        return "identifier"
    mean_length = col.length_sum / valid
    if (unique_share >= 0.5 or distinct > 10_000) and (mean_length > 30 or spaces >= 0.5):
        return "text"
    return "categorical"


def suggest_target(names: list[str], types: list[str]) -> str | None:
    for name in names:
        if name.strip().lower() in TARGET_NAMES:
            return name
    for name, kind in reversed(list(zip(names, types, strict=True))):
        if kind not in NOT_TARGETS:
            return name
    return None


def suggest_task_type(col: ColumnStats, kind: str, distinct: int) -> str | None:
    """The rules of jobs.engine.data.suggest_task_type, on the profile's facts."""
    if distinct < 2 or kind == "datetime":
        return None
    if distinct == 2:
        return "binary"
    if kind in ("numeric", "integer") and col.kind == "numeric":
        if col.is_float and not col.integral:
            return "regression"
        if distinct > MAX_CLASSES_FROM_INTEGERS:
            return "regression"
    return "multiclass"


def class_counts(col: ColumnStats, counts: tuple[pa.Array, np.ndarray] | None) -> list[int]:
    if col.kind == "boolean":
        return [c for c in (col.true_count, col.valid_count - col.true_count) if c]
    return [] if counts is None else [int(c) for c in counts[1]]


def _codes(arr: pa.Array) -> tuple[np.ndarray, int]:
    encoded = pc.dictionary_encode(arr)
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    return codes.astype(np.int64), len(encoded.dictionary)


def _floats(arr: pa.Array) -> np.ndarray:
    return np.asarray(arr.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)


def _purity(feature: np.ndarray, n_values: int, target: np.ndarray, n_classes: int) -> float:
    ok = (feature >= 0) & (target >= 0)
    feature, target = feature[ok], target[ok]
    if feature.size < MIN_LEAK_ROWS or n_values * n_classes > 5_000_000:
        return 0.0
    table = np.bincount(feature * n_classes + target, minlength=n_values * n_classes)
    table = table.reshape(n_values, n_classes)
    table = table[table.sum(1) >= MIN_ROWS_PER_VALUE]
    kept = table.sum()
    if len(table) < 2 or kept < 0.5 * feature.size:
        return 0.0
    return _score(table.max(1).sum() / kept, table.sum(0).max() / kept)


def _score(accuracy: float, baseline: float) -> float:
    """The accuracy, or 0 where it does not beat always answering the majority class."""
    return float(accuracy) if 1 - accuracy <= 0.2 * (1 - baseline) else 0.0


def _stump(x: np.ndarray, target: np.ndarray, n_classes: int) -> float:
    ok = np.isfinite(x) & (target >= 0)
    x, target = x[ok], target[ok]
    if x.size < MIN_LEAK_ROWS or n_classes > 50:
        return 0.0
    order = np.argsort(x, kind="stable")
    x, target = x[order], target[order]
    left = np.zeros((x.size, n_classes), dtype=np.int32)
    left[np.arange(x.size), target] = 1
    np.cumsum(left, axis=0, out=left)
    cuts = np.flatnonzero(x[1:] != x[:-1])
    if cuts.size == 0:
        return 0.0
    before, total = left[cuts], left[-1]
    accuracy = (before.max(1) + (total - before).max(1)).max() / x.size
    return _score(accuracy, total.max() / x.size)


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < MIN_LEAK_ROWS or x.std() == 0 or y.std() == 0:
        return 0.0
    return abs(float(np.corrcoef(x, y)[0, 1]))


def _explained(feature: np.ndarray, n_values: int, y: np.ndarray) -> float:
    """Share of y's variance explained by the feature's values (the correlation ratio, squared)."""
    ok = (feature >= 0) & np.isfinite(y)
    feature, y = feature[ok], y[ok]
    sizes = np.bincount(feature, minlength=n_values)
    kept = sizes[feature] >= MIN_ROWS_PER_VALUE
    feature, y = feature[kept], y[kept]
    if y.size < MIN_LEAK_ROWS or (sizes >= MIN_ROWS_PER_VALUE).sum() < 2 or y.var() == 0:
        return 0.0
    sums = np.bincount(feature, weights=y, minlength=n_values)
    means = np.divide(sums, sizes, out=np.zeros(n_values), where=sizes > 0)
    return float(1 - ((y - means[feature]) ** 2).sum() / ((y - y.mean()) ** 2).sum())


def leakage(
    sample: pa.Table, target: str, task: str, types: dict[str, str]
) -> list[tuple[str, str, float]]:
    """(feature, test, score) for each feature that predicts the target almost perfectly."""
    found = []
    classify = task in ("binary", "multiclass")
    if classify:
        target_codes, n_classes = _codes(sample.column(target).combine_chunks())
    else:
        y = _floats(sample.column(target).combine_chunks())
    for name, kind in types.items():
        if name == target or kind not in FEATURE_TYPES:
            continue
        arr = sample.column(name).combine_chunks()
        scores: dict[str, float] = {}
        if kind in ("categorical", "boolean", "integer"):
            codes, n_values = _codes(arr)
            if classify:
                scores["purity"] = _purity(codes, n_values, target_codes, n_classes)
            else:
                scores["explained variance"] = _explained(codes, n_values, y)
        if kind in ("numeric", "integer"):
            x = _floats(arr)
            if classify:
                scores["threshold accuracy"] = _stump(x, target_codes, n_classes)
            else:
                scores["|pearson r|"] = _pearson(x, y)
        limits = {"explained variance": 0.98}
        for test, score in scores.items():
            if score >= limits.get(test, 0.99):
                found.append((name, test, score))
                break
    return found


def warnings_for(
    profile: dict[str, Any], stats: dict[str, ColumnStats], sample: pa.Table, classes: list[int]
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def warn(code: str, column: str | None, message: str) -> None:
        found.append({"code": code, **({"column": column} if column else {}), "message": message})

    n_rows = profile["n_rows"]
    for column in profile["columns"]:
        name, kind, col = column["name"], column["type"], stats[column["name"]]
        if kind == "identifier":
            warn(
                "identifier", name, f"'{name}' looks like an identifier: unique per row, no signal."
            )
        if kind == "constant":
            warn("constant", name, f"'{name}' has at most one value; it cannot help a model.")
        if n_rows and column["missing"] / n_rows > 0.5:
            share = column["missing"] / n_rows
            warn("high_missing", name, f"'{name}' is missing in {share:.0%} of rows.")
        distinct = column["distinct"]
        many = distinct > 100 and (distinct > 1000 or distinct > col.valid_count / 20)
        if kind == "categorical" and many:
            warn("high_cardinality", name, f"'{name}' has {distinct} distinct values.")
        if col.unparsed:
            warn("unparsed_values", name, f"{col.unparsed} values of '{name}' did not parse.")
    if profile["duplicate_rows"]:
        warn("duplicate_rows", None, f"{profile['duplicate_rows']} rows repeat an earlier row.")
    target, task = profile["suggested_target"], profile["suggested_task_type"]
    if target is None or task is None:
        return found
    if task != "regression" and classes:
        total, rarest = sum(classes), min(classes)
        if rarest / total < 0.1:
            warn(
                "class_imbalance",
                target,
                f"The rarest class of '{target}' is {rarest / total:.1%}.",
            )
        if rarest < 10:
            warn("few_rows_per_class", target, f"A class of '{target}' has only {rarest} rows.")
    if target in sample.column_names:
        types = {c["name"]: c["type"] for c in profile["columns"]}
        for name, test, score in leakage(sample, target, task, types):
            warn(
                "target_leakage",
                name,
                f"'{name}' predicts '{target}' almost perfectly ({test} {score:.3f} on "
                f"{sample.num_rows} sampled rows): check it is known before the outcome.",
            )
    return found
