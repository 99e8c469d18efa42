"""One set of job checks, run on a frame's facts (the worker) and a profile's (the web)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from jobs.engine.checks import OptionError, TaskRequest, check_task
from jobs.engine.data import DataError
from jobs.engine.facts import FrameFacts, ProfileFacts, TableFacts
from jobs.engine.io.profile import profile_batches


def _both(frame: pd.DataFrame, **types: str) -> dict[str, TableFacts]:
    """The frame's facts, and those of the profile the worker would store for the same rows."""
    batches = pa.Table.from_pandas(frame, preserve_index=False).to_batches()
    profile = profile_batches(batches, prefetch=False, threads=1, overrides=types)
    return {"frame": FrameFacts(frame), "profile": ProfileFacts(profile)}


def _answer(table: TableFacts, request: TaskRequest) -> Any:
    try:
        return check_task(table, request)
    except OptionError as exc:
        return ("refused", exc.field, str(exc))
    except DataError as exc:
        return ("refused", str(exc))


def _rows(n: int = 30, **columns: Any) -> pd.DataFrame:
    return pd.DataFrame({"x": np.arange(n, dtype=float) * 0.37, **columns})


def _series(n: int = 60, **extra: Any) -> pd.DataFrame:
    days = pd.date_range("2024-01-01", periods=n, freq="D").astype(str)
    sales = np.sin(np.arange(n) / 3) + np.arange(n) * 0.1
    return pd.DataFrame({"day": days, "sales": sales, "shop": ["a"] * n, **extra})


CASES: list[tuple[str, pd.DataFrame, TaskRequest, str]] = [
    ("missing-column", _rows(y=["a", "b"] * 15), TaskRequest("nope"),
     "Column 'nope' is not in the dataset. Columns: x, y."),
    ("single-class", _rows(y=["same"] * 30), TaskRequest("y"),
     "The target column 'y' has a single class ('same'); classification needs at least two."),
    ("binary-of-three", _rows(y=["a", "b", "c"] * 10), TaskRequest("y", "binary"),
     "A binary task needs exactly two classes; 'y' has 3. Choose multiclass."),
    ("class-of-one-row", _rows(y=["a", "b"] * 14 + ["b", "c"]), TaskRequest("y"),
     "Class 'c' of 'y' has a single row; each class needs at least two rows to be split "
     "into training and test data."),
    ("integer-class-of-one-row", _rows(y=[0, 1] * 14 + [1, 7]), TaskRequest("y"),
     "Class 7 of 'y' has a single row; each class needs at least two rows to be split "
     "into training and test data."),
    ("regression-on-text", _rows(y=["a", "b", "c"] * 10), TaskRequest("y", "regression"),
     "Regression needs a numeric target; 'y' is not numeric."),
    ("constant-regression", _rows(y=[2.5] * 30), TaskRequest("y", "regression"),
     "The target column 'y' is constant; nothing to predict."),
    ("too-few-rows", _rows(6, y=["a", "b"] * 3), TaskRequest("y"),
     "The dataset has 6 rows; training needs at least 10."),
    ("no-feature", pd.DataFrame({"y": ["a", "b"] * 15}), TaskRequest("y"),
     "The dataset has no feature column besides the target."),
    ("target-is-text", _rows(y=["a", "b"] * 15, review=["good film"] * 30),
     TaskRequest("review", text_column="review", dataset_kind="text"),
     "'review' is the text column, the model's input; choose the column to predict."),
    ("horizon-on-binary", _rows(y=["a", "b"] * 15), TaskRequest("y", horizon=2),
     "'horizon' and 'lookback' apply to forecasting only."),
    ("multilabel-numbers", _rows(y=[1, 2, 3] * 10), TaskRequest("y", "multilabel"),
     "Multi-label needs a target of label lists such as 'a;b' (labels separated by ; | or ,); "
     "'y' holds numbers. Choose binary, multiclass or regression."),
    ("multilabel-single-labels", _rows(y=["a", "b", "c"] * 10), TaskRequest("y", "multilabel"),
     "No row of 'y' holds more than one label when split on ';'. Give label lists such as "
     "'a;b' (or set label_delimiter), or choose multiclass."),
    ("forecast-text", _series(), TaskRequest("shop", "forecasting", timestamp_column="day"),
     "Forecasting needs a numeric target; 'shop' is not numeric."),
    ("forecast-too-short", _series(12), TaskRequest(
        "sales", "forecasting", "timeseries", timestamp_column="day", horizon=3),
     "Forecasting 3 step(s) ahead from 1 row(s) needs at least 13 rows with a timestamp; the "
     "dataset has 12."),
    ("forecast-without-timestamp", _rows(y=[0.5, 1.5] * 15), TaskRequest("y", "forecasting"),
     "Forecasting needs a timestamp column: upload the file as a time-series dataset (kind "
     "'timeseries' with 'timestamp_column')."),
    # and what passes, passes alike, with the same task type and options
    ("suggested-binary", _rows(y=["a", "b"] * 15), TaskRequest("y"), ""),
    ("suggested-multiclass-of-integers", _rows(y=[0, 1, 2, 3, 4] * 6), TaskRequest("y"), ""),
    ("whole-floats-are-classes", _rows(y=[0.0, 1.0, 2.0] * 10), TaskRequest("y"), ""),
    ("suggested-regression", _rows(y=np.arange(30) * 1.5 + 0.25), TaskRequest("y"), ""),
    ("many-integers-are-regression", _rows(y=np.arange(30)), TaskRequest("y"), ""),
    ("boolean-binary", _rows(y=[True, False] * 15), TaskRequest("y"), ""),
    ("text-classes", _rows(y=["a", "b"] * 15, review=["good film"] * 30),
     TaskRequest("y", text_column="review", dataset_kind="text"), ""),
    ("multilabel-detected", _rows(y=["a|b", "b", "a|c", None, "c"] * 6),
     TaskRequest("y", "multilabel"), ""),
    ("forecast-suggested", _series(), TaskRequest(
        "sales", dataset_kind="timeseries", timestamp_column="day", horizon=2), ""),
]  # fmt: skip


@pytest.mark.parametrize(
    ("frame", "request_", "message"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_a_profile_and_a_frame_give_the_same_answer(
    frame: pd.DataFrame, request_: TaskRequest, message: str
) -> None:
    answers = {source: _answer(table, request_) for source, table in _both(frame).items()}

    assert answers["profile"] == answers["frame"]
    if message:
        assert answers["frame"][0] == "refused"
        assert answers["frame"][-1] == message
    else:
        assert answers["frame"][0] != "refused", answers["frame"]


def test_what_a_profile_cannot_tell_is_left_to_the_frame() -> None:
    # given twelve classes, one of them on a single row: more than a profile lists
    labels = [f"class{i:02d}" for i in range(11) for _ in range(3)] + ["lonely"]
    facts = _both(_rows(len(labels), y=labels))

    # then the web's check lets it through, and the worker's refuses it as the web would have
    assert check_task(facts["profile"], TaskRequest("y")) == ("multiclass", {})
    with pytest.raises(DataError, match="Class 'lonely' of 'y' has a single row"):
        check_task(facts["frame"], TaskRequest("y"))


def test_a_multilabel_delimiter_a_profile_cannot_see_is_detected_by_the_worker() -> None:
    tags = [f"t{i};t{i + 1}" for i in range(40)]  # 40 distinct label lists
    facts = _both(_rows(40, y=tags))
    assert check_task(facts["profile"], TaskRequest("y", "multilabel")) == (
        "multilabel",
        {"label_delimiter": None},
    )
    assert check_task(facts["frame"], TaskRequest("y", "multilabel")) == (
        "multilabel",
        {"label_delimiter": ";"},
    )


def test_a_string_column_typed_as_numbers_is_still_text_to_the_worker() -> None:
    # the profile parses an overridden column as numbers, but the frame the worker trains on
    # holds the file's strings: the web must not accept what the worker will refuse
    frame = _rows(y=[f"{i}.5" for i in range(30)])
    facts = _both(frame, y="numeric")
    request = TaskRequest("y", "regression")
    assert _answer(facts["profile"], request) == _answer(facts["frame"], request)
