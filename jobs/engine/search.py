"""The engine's search entry points: a job's data and configuration in, a `SearchResult` out.

Which task runs is the registry's choice (`jobs.engine.tasks`); `runner.run_task` runs every
task's steps alike.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from jobs.engine.config import SearchConfig
from jobs.engine.results import Reporter, SearchInterrupted, SearchResult, SearchStopped
from jobs.engine.runner import run_task
from jobs.engine.tasks import task_for

__all__ = [
    "Reporter",
    "SearchConfig",
    "SearchInterrupted",
    "SearchResult",
    "SearchStopped",
    "run_image_search",
]
__all__ += ["run_search"]


def run_search(
    frame: pd.DataFrame, config: SearchConfig, *, workdir: Path, reporter: Reporter
) -> SearchResult:
    """Search a table's task, keep the best (or an ensemble), evaluate it once on the test split."""
    return run_task(task_for(config, "table"), frame, config, workdir=workdir, reporter=reporter)


def run_image_search(
    archive_path: Path, config: SearchConfig, *, workdir: Path, reporter: Reporter
) -> SearchResult:
    """The same for an image archive: its images are decoded once, then CNNs are searched."""
    task = task_for(config, "images")
    return run_task(task, archive_path, config, workdir=workdir, reporter=reporter)
