"""The task registry: every kind of job, one module each, asked in this order.

A task module imports only the core (never another task, never this registry) and ends with
its `TASK` (`jobs.engine.task.Task`). Importing the registry also registers every saved-model
layer with Keras, which loading a model file needs.
"""

from __future__ import annotations

from jobs.engine.config import SearchConfig
from jobs.engine.task import Task
from jobs.engine.tasks import forecast, image, multilabel, tabular, text

# Order matters where two tasks could take a job: forecasting before text, text before
# multi-label (a text column with label sets is a text job).
TASKS: tuple[Task, ...] = (forecast.TASK, text.TASK, multilabel.TASK, tabular.TASK, image.TASK)


def task_for(config: SearchConfig, reads: str = "table") -> Task:
    """The task that takes a job of this configuration on data of this kind."""
    for task in TASKS:
        if task.reads == reads and task.handles(config):
            return task
    raise ValueError(f"No task takes a {config.task_type} job on {reads} data.")
