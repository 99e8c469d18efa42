from __future__ import annotations

import io

import pandas as pd
import pytest

from jobs.engine.data import DataError, check_target, infer_column_type, suggest_task_type
from jobs.engine.facts import FrameFacts


def _frame(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text))


def test_types_are_inferred_per_column() -> None:
    frame = _frame("n,f,b,flag,c\n1,1.5,0,true,x\n2,2.5,1,false,y\n3,,1,true,x\n")
    types = {str(name): infer_column_type(frame[name]) for name in frame.columns}
    assert types == {
        "n": "numeric",
        "f": "numeric",
        "b": "boolean",
        "flag": "boolean",
        "c": "categorical",
    }


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0, 1] * 10, "binary"),
        (["cat", "dog", "cow"] * 5, "multiclass"),
        (list(range(5)) * 4, "multiclass"),
        ([i * 0.37 for i in range(40)], "regression"),
        (list(range(100)), "regression"),
    ],
)
def test_task_type_is_suggested_from_the_target(values: list[object], expected: str) -> None:
    assert suggest_task_type(pd.Series(values)) == expected


def test_a_class_with_one_row_cannot_be_split() -> None:
    frame = pd.DataFrame({"x": range(12), "y": ["a"] * 6 + ["b"] * 5 + ["c"]})
    with pytest.raises(DataError, match="single row"):
        check_target(FrameFacts(frame), "y", "multiclass")


def test_too_few_rows_are_refused() -> None:
    frame = pd.DataFrame({"x": range(4), "y": [0, 1, 0, 1]})
    with pytest.raises(DataError, match="at least 10"):
        check_target(FrameFacts(frame), "y", None)
