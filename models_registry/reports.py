"""Reads that describe versions: their signatures, a side-by-side comparison, a model card."""

from __future__ import annotations

from typing import Any

from models_registry.models import ModelVersion

IMBALANCE_RATIO = 3.0


def _profile_columns(version: ModelVersion) -> dict[str, dict[str, Any]]:
    profile = version.dataset.profile or {}
    return {str(c.get("name")): c for c in profile.get("columns", []) if isinstance(c, dict)}


def _example(entry: dict[str, Any], column: dict[str, Any]) -> Any:
    kind = entry.get("type")
    if kind == "categorical":
        values = entry.get("values") or [t.get("value") for t in column.get("top", [])]
        return values[0] if values else ""
    if kind in ("numeric", "integer", "boolean") and column.get("mean") is not None:
        mean = float(column["mean"])
        return round(mean) if kind != "numeric" else round(mean, 4)
    if kind == "text":
        return "some text"
    return None


def input_signature(version: ModelVersion) -> dict[str, Any]:
    """Each input with its type and what training saw (categories, ranges), and an example."""
    columns = _profile_columns(version)
    inputs, example = [], {}
    for entry in version.input_schema or []:
        seen = columns.get(str(entry.get("name")), {})
        item = dict(entry)
        if entry.get("type") in ("numeric", "integer") and "min" in seen:
            item["range"] = [seen.get("min"), seen.get("max")]
        inputs.append(item)
        if entry.get("type") != "image":
            example[entry["name"]] = _example(entry, seen)
    return {"inputs": inputs, "example": example or None}


def output_signature(version: ModelVersion) -> dict[str, Any]:
    if version.classes:
        return {
            "target": version.target,
            "task_type": version.task_type,
            "classes": version.classes,
        }
    return {"target": version.target, "task_type": version.task_type, "classes": None}


def _diff_maps(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for key in sorted(set(a) | set(b)):
        left, right = a.get(key), b.get(key)
        row: dict[str, Any] = {"name": key, "a": left, "b": right, "same": left == right}
        numbers = [v for v in (left, right) if isinstance(v, int | float)]
        if len(numbers) == 2 and not any(isinstance(v, bool) for v in numbers):
            row["delta"] = numbers[1] - numbers[0]
        rows.append(row)
    return rows


def _scalar_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """Numbers side by side; nested results (per class, importance) are the version page's."""
    return {k: v for k, v in (metrics or {}).items() if isinstance(v, int | float | str | None)}


def version_compare(a: ModelVersion, b: ModelVersion) -> dict[str, Any]:
    ins_a = {e.get("name"): e for e in a.input_schema or []}
    ins_b = {e.get("name"): e for e in b.input_schema or []}
    changed = [
        {"name": n, "a": ins_a[n], "b": ins_b[n]}
        for n in sorted(set(ins_a) & set(ins_b))
        if ins_a[n] != ins_b[n]
    ]
    return {
        "a": {"id": a.pk, "model_name": a.model.name, "version": a.version},
        "b": {"id": b.pk, "model_name": b.model.name, "version": b.version},
        "metrics": _diff_maps(_scalar_metrics(a.metrics), _scalar_metrics(b.metrics)),
        "hyperparameters": _diff_maps(a.hyperparameters or {}, b.hyperparameters or {}),
        "signature": {
            "inputs_only_in_a": sorted(set(ins_a) - set(ins_b)),
            "inputs_only_in_b": sorted(set(ins_b) - set(ins_a)),
            "inputs_changed": changed,
            "target": {"a": a.target, "b": b.target, "same": a.target == b.target},
            "task_type": {"a": a.task_type, "b": b.task_type, "same": a.task_type == b.task_type},
            "classes": {"a": a.classes, "b": b.classes, "same": a.classes == b.classes},
        },
        "dataset": {
            "a": a.dataset_id,
            "b": b.dataset_id,
            "same": a.dataset_id == b.dataset_id,
        },
    }


def _class_counts(version: ModelVersion) -> dict[str, int]:
    column = _profile_columns(version).get(version.target, {})
    return {str(t.get("value")): int(t.get("count", 0)) for t in column.get("top", []) or []}


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def card_generate(version: ModelVersion) -> str:
    """A markdown model card from what the registry recorded; people edit it from there."""
    dataset = version.dataset
    lines = [
        f"# {version.model.name} v{version.version}",
        "",
        version.model.description or "",
        "",
        "## Task",
        f"- Task type: {version.task_type}",
        f"- Target: `{version.target}`",
    ]
    if version.classes:
        lines.append(f"- Classes (in output order): {', '.join(map(str, version.classes))}")
    lines += [
        "",
        "## Data",
        f"- Dataset: {dataset.name} v{dataset.version} ({dataset.n_rows or '?'} rows, "
        f"{dataset.n_columns or '?'} columns)",
        f"- Dataset sha256: `{version.manifest.get('dataset_sha256') or dataset.sha256}`",
        f"- Inputs: {', '.join(str(e.get('name')) for e in version.input_schema or [])}",
        "",
        "## Metrics (test split)",
    ]
    scalars = _scalar_metrics(version.metrics)
    lines += [f"- {k}: {_fmt(v)}" for k, v in scalars.items()] or ["- none recorded"]
    lines += [
        "",
        "## Intended use",
        f"Predicting `{version.target}` for rows shaped like the training data, through the "
        "console's prediction endpoint. Not validated for other populations or inputs outside "
        "the ranges seen in training.",
        "",
        "## Limitations",
    ]
    limits = []
    counts = _class_counts(version)
    if len(counts) >= 2 and min(counts.values()) > 0:
        ratio = max(counts.values()) / min(counts.values())
        if ratio >= IMBALANCE_RATIO:
            shares = ", ".join(f"{k}: {v}" for k, v in counts.items())
            limits.append(
                f"- Class imbalance in training: {shares} (largest/smallest {ratio:.1f})."
            )
    for warning in (dataset.profile or {}).get("warnings", []):
        if isinstance(warning, dict) and warning.get("message"):
            limits.append(f"- {warning['message']}")
    lines += limits or ["- None found in the data profile."]
    versions = version.manifest.get("versions", {})
    if versions:
        lines += ["", "## Reproducibility"]
        lines += [f"- {k}: {v}" for k, v in versions.items()]
        if version.manifest.get("seed") is not None:
            lines.append(f"- seed: {version.manifest['seed']}")
    return "\n".join(lines).replace("\n\n\n", "\n\n").strip() + "\n"


def version_card(version: ModelVersion) -> dict[str, Any]:
    """The edited card when there is one, else the generated one."""
    edited = bool(version.model_card)
    return {
        "markdown": version.model_card if edited else card_generate(version),
        "edited": edited,
    }
