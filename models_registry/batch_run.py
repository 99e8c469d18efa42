"""Scoring a batch prediction, in a worker: the dataset chunk by chunk through the version's
model, into a CSV that is stored whole or not at all.

Each chunk goes through `Served.predict`, the steps the predictor's REST endpoint takes, so a
row's prediction here is the one `POST /predict` answers for it; `prediction_columns` only
lays that answer out as CSV cells. Every write is fenced by the claim's attempt number: a
cancelled run (or one taken over by another worker) stops at its next chunk and stores
nothing.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import pandas as pd
import pyarrow as pa
from django.core.files import File
from django.db.models import FileField
from django.utils import timezone

from jobs import selectors as job_selectors
from jobs.engine.data import DataError
from jobs.engine.io.formats import iter_batches
from jobs.engine.model import RecordError
from models_registry.batch import batch_prediction_held
from models_registry.models import BatchPrediction
from models_registry.predictor.hosting import load_version

logger = logging.getLogger(__name__)

# Rows per chunk: a chunk's records, features and answers stay a few MB however wide the table.
CHUNK_ROWS = 4096
ROW_COLUMN = "row"
# A multi-label answer's labels, in one cell.
LIST_SEPARATOR = ";"


class BatchFailed(Exception):
    """The run cannot finish; the message tells the user why and what to change."""


class _Stopped(Exception):
    """The claim is gone: cancelled, or another attempt took the run over."""


def prediction_columns(prediction: Any, prefix: str = "") -> dict[str, Any]:
    """One REST prediction as CSV cells: a value is `prediction`; an object's fields are
    columns of their own, nested ones named `field.key` (`probabilities.benign`)."""
    if not isinstance(prediction, Mapping):
        return {prefix or "prediction": prediction}
    cells: dict[str, Any] = {}
    for key, value in prediction.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            cells.update(prediction_columns(value, name))
        elif isinstance(value, list):
            cells[name] = LIST_SEPARATOR.join(str(v) for v in value)
        else:
            cells[name] = value
    return cells


def batch_prediction_run(*, prediction: BatchPrediction) -> BatchPrediction:
    """Score the claimed prediction's dataset; SUCCEEDED with the stored CSV, or FAILED with
    the reason and no output. Returns the row as it ends up."""
    try:
        _score(prediction)
    except _Stopped:
        logger.info("Batch prediction %s: claim lost (cancelled?); stopped", prediction.pk)
    except (BatchFailed, DataError) as exc:
        _fail(prediction, str(exc))
    except Exception as exc:  # anything else still ends the run with a reason
        logger.exception("Batch prediction %s failed", prediction.pk)
        _fail(prediction, f"The batch prediction failed: {type(exc).__name__}: {exc}")
    prediction.refresh_from_db()
    return prediction


def _fail(prediction: BatchPrediction, error: str) -> None:
    BatchPrediction.objects.filter(batch_prediction_held(prediction)).update(
        status=BatchPrediction.Status.FAILED, error=error[:2000], finished_at=timezone.now()
    )


def _beat(prediction: BatchPrediction, n_rows: int) -> None:
    if not BatchPrediction.objects.filter(batch_prediction_held(prediction)).update(
        heartbeat_at=timezone.now(), n_rows=n_rows
    ):
        raise _Stopped


def _score(prediction: BatchPrediction) -> None:
    version, dataset = prediction.model_version, prediction.dataset
    if version is None:
        raise BatchFailed("The model version was deleted before the run started.")
    if dataset is None:
        raise BatchFailed("The dataset was deleted before the run started.")
    try:
        served = load_version(version)
    except ValueError as exc:
        raise BatchFailed(f"{version} cannot be loaded: {exc}") from exc
    needed = [str(entry["name"]) for entry in version.input_schema]
    numeric = {str(e["name"]) for e in version.input_schema if e.get("type") == "numeric"}
    with (
        job_selectors.dataset_table(dataset=dataset) as (path, source),
        tempfile.TemporaryDirectory() as tmp,
    ):
        missing = [name for name in needed if name not in source.columns]
        if missing:
            raise BatchFailed(
                f"Dataset '{dataset.name}' lacks columns {version} needs: "
                f"{', '.join(missing)}. Score a dataset that has them."
            )
        out_path = Path(tmp) / "predictions.csv"
        batches = iter_batches(path, source, CHUNK_ROWS)
        n_rows = _write(prediction, served, batches, (needed, numeric), out_path)
        _store(prediction, out_path, n_rows)


def _as_numbers(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A column the model reads as numbers, as training read it (jobs.engine.data): a value
    that is not a number (text in a column declared numeric) is missing, not an error."""
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        return column
    return pa.array(pd.to_numeric(column.to_pandas(), errors="coerce"), from_pandas=True)


def _records(batch: pa.RecordBatch, needed: list[str], numeric: set[str]) -> list[Any]:
    # Only the model's columns: the target and other extra columns are not its input.
    chosen = batch.select(needed)
    columns = [
        _as_numbers(column) if name in numeric else column
        for name, column in zip(needed, chosen.columns, strict=True)
    ]
    return pa.RecordBatch.from_arrays(columns, names=needed).to_pylist()


def _write(
    prediction: BatchPrediction,
    served: Any,
    batches: Any,
    columns: tuple[list[str], set[str]],
    out_path: Path,
) -> int:
    n_rows = 0
    writer: csv.DictWriter[str] | None = None
    with out_path.open("w", newline="", encoding="utf-8") as out:
        for batch in batches:
            records = _records(batch, *columns)
            try:
                answers = served.predict(records)
            except RecordError as exc:
                row = n_rows + (exc.instance or 0)
                raise BatchFailed(f"Row {row} cannot be scored: {exc}") from exc
            rows = [
                {ROW_COLUMN: n_rows + i, **prediction_columns(answer)}
                for i, answer in enumerate(answers)
            ]
            if writer is None and rows:
                writer = csv.DictWriter(out, fieldnames=list(rows[0]))
                writer.writeheader()
            if writer is not None:
                writer.writerows(rows)
            n_rows += len(rows)
            _beat(prediction, n_rows)
        if writer is None:
            out.write(f"{ROW_COLUMN}\n")
    return n_rows


def _store(prediction: BatchPrediction, out_path: Path, n_rows: int) -> None:
    """Put the finished CSV in storage, then point the row at it; a run that lost its claim
    meanwhile deletes what it stored, so no row ever names a partial or orphaned file."""
    digest = hashlib.sha256()
    with out_path.open("rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    storage = cast(FileField, BatchPrediction._meta.get_field("output")).storage
    with out_path.open("rb") as source:
        name = storage.save(f"batch_predictions/{uuid.uuid4().hex}.csv", File(source))
    finished = BatchPrediction.objects.filter(batch_prediction_held(prediction)).update(
        status=BatchPrediction.Status.SUCCEEDED,
        output=name,
        output_size=out_path.stat().st_size,
        output_sha256=digest.hexdigest(),
        n_rows=n_rows,
        error="",
        finished_at=timezone.now(),
    )
    if not finished:
        storage.delete(name)
        raise _Stopped
