"""Every task in the registry implements the same interface, and each job finds its task."""

from __future__ import annotations

import inspect
from pathlib import Path

import keras
import pytest

from jobs.engine.config import SearchConfig
from jobs.engine.layers import ServingInput
from jobs.engine.task import Task
from jobs.engine.tasks import TASKS, task_for

TASK_DIR = Path(__file__).resolve().parent.parent.parent / "jobs" / "engine" / "tasks"


def test_every_task_module_is_registered_once() -> None:
    modules = sorted(p.stem for p in TASK_DIR.glob("*.py") if p.stem != "__init__")
    registered = sorted(t.prepare.__module__.rsplit(".", 1)[-1] for t in TASKS)
    assert registered == modules
    assert len({t.name for t in TASKS}) == len(TASKS)


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.name)
def test_a_task_implements_the_interface(task: Task) -> None:
    assert task.reads in ("table", "images")
    # Each step is the task module's own, with the interface's parameters.
    steps = {"prepare": 2, "hypermodel": 2, "evaluate": 3}
    for step, arity in steps.items():
        function = getattr(task, step)
        assert function.__module__ == task.prepare.__module__
        assert len(inspect.signature(function).parameters) == arity
    config = SearchConfig(target="y", task_type="binary")
    assert isinstance(task.handles(config), bool)
    assert isinstance(task.objective(config), str)
    assert isinstance(task.refit, bool)
    layer = task.input_layer
    assert issubclass(layer, keras.layers.Layer)
    assert issubclass(layer, ServingInput)
    # It states its schema and encodes requests itself, rather than the base's placeholders.
    for method in ("input_schema", "encode_records"):
        assert getattr(layer, method) is not getattr(ServingInput, method)
    # Saved files name it by its registered name: a file must find it again.
    assert keras.saving.get_registered_object(f"automl>{layer.__name__}") is layer


@pytest.mark.parametrize(
    ("config", "reads", "expected"),
    [
        (SearchConfig(target="y", task_type="binary"), "table", "tables"),
        (SearchConfig(target="y", task_type="regression"), "table", "tables"),
        (SearchConfig(target="y", task_type="multilabel"), "table", "multilabel"),
        (SearchConfig(target="y", task_type="multiclass", text_column="t"), "table", "text"),
        (SearchConfig(target="y", task_type="multilabel", text_column="t"), "table", "text"),
        (
            SearchConfig(target="y", task_type="forecasting", text_column="t"),
            "table",
            "forecasting",
        ),
        (SearchConfig(target="y", task_type="forecasting"), "table", "forecast"),
        (SearchConfig(target="y", task_type="multiclass"), "images", "images"),
    ],
)
def test_each_job_goes_to_its_task(config: SearchConfig, reads: str, expected: str) -> None:
    assert task_for(config, reads).name.startswith(expected)
