"""What every task module gives the registry (`jobs.engine.tasks`): core, imports no task.

A task is one kind of job: what it reads (a table, or an image archive), which jobs it takes,
its search (prepare the data and targets, build the hypermodel, tune, evaluate on the test
split) and the input layer its saved models start with, which turns a prediction request into
the model's input (`layers.ServingInput`; `layers.predict` decodes the outputs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from jobs.engine.config import SearchConfig
from jobs.engine.layers import ServingInput
from jobs.engine.results import Reporter, SearchResult


class Search(Protocol):
    """A task's search: `data` is a frame, or an image archive's path (see `Task.reads`)."""

    def __call__(
        self, data: Any, config: SearchConfig, /, *, workdir: Path, reporter: Reporter
    ) -> SearchResult: ...


@dataclass(frozen=True)
class Task:
    name: str
    reads: Literal["table", "images"]
    # Whether a job of this configuration is this task's (asked in the registry's order).
    handles: Callable[[SearchConfig], bool]
    search: Search
    input_layer: type[ServingInput]
