"""Checking a job's target and task against its data: its profile before anything is queued,
the whole frame again in the worker before training (jobs.engine.facts).

The task type says what is predicted (classes, a value, a set of labels, future values); the
dataset's kind says what the model reads: a text dataset's models read only its text column,
a time series is forecast from its own past.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobs.engine.data import ALL_TASK_TYPES, DataError, TaskType, check_target, require_column
from jobs.engine.facts import TableFacts
from jobs.engine.task_data import check_forecast_target, check_multilabel_target


class OptionError(DataError):
    """A job option that does not fit the task; `field` names it for the API's answer."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class TaskRequest:
    target: str
    task_type: TaskType | None = None
    dataset_kind: str = "tabular"
    text_column: str = ""
    timestamp_column: str = ""
    horizon: int | None = None
    lookback: int | None = None
    label_delimiter: str | None = None


def check_task(table: TableFacts, request: TaskRequest) -> tuple[TaskType, dict[str, Any]]:
    """The task type to use and the options the search needs (DataError when impossible).

    `table`: a frame's facts (the worker, before training) or a stored profile's (the web,
    creating the job); what a profile cannot answer is checked by the worker.
    """
    target = request.target
    chosen = request.task_type
    if chosen is not None and chosen not in ALL_TASK_TYPES:
        raise DataError(f"Unknown task type '{chosen}'. Choose one of {', '.join(ALL_TASK_TYPES)}.")
    column = require_column(table, target)
    if chosen is None and request.dataset_kind == "timeseries" and column.numeric:
        chosen = "forecasting"
    if chosen != "forecasting" and (request.horizon is not None or request.lookback is not None):
        raise OptionError(
            "'horizon' and 'lookback' apply to forecasting only.",
            field="horizon" if request.horizon is not None else "lookback",
        )
    if chosen != "multilabel" and request.label_delimiter:
        raise OptionError(
            "'label_delimiter' applies to multi-label jobs only.", field="label_delimiter"
        )

    if chosen == "forecasting":
        horizon = 1 if request.horizon is None else request.horizon
        check_forecast_target(table, target, request.timestamp_column, horizon, request.lookback)
        return chosen, {
            "timestamp_column": request.timestamp_column,
            "horizon": horizon,
            "lookback": request.lookback,
        }

    options: dict[str, Any] = {}
    if request.text_column:
        if target == request.text_column:
            raise DataError(
                f"'{target}' is the text column, the model's input; choose the column to predict."
            )
        options["text_column"] = request.text_column
        table = table.only([request.text_column, target])
    if chosen == "multilabel":
        options["label_delimiter"] = check_multilabel_target(table, target, request.label_delimiter)
        if table.n_rows < 10:
            raise DataError(f"The dataset has {table.n_rows} rows; training needs at least 10.")
        if len(table.names) < 2:
            raise DataError("The dataset has no feature column besides the target.")
        return chosen, options
    return check_target(table, target, chosen), options
