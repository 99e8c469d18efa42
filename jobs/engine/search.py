"""The engine's search entry points: a job's data and configuration in, a `SearchResult` out.

Which task runs is the registry's choice (`jobs.engine.tasks`); `runner.run_task` runs every
task's steps alike.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from jobs.engine.config import SearchConfig
from jobs.engine.reporting import Reporter, SearchInterrupted, SearchStopped
from jobs.engine.results import SearchResult
from jobs.engine.runner import run_task, serve_trials
from jobs.engine.tasks import task_for
from jobs.engine.tickets import TrialPool, TrialSource

__all__ = [
    "Reporter",
    "SearchConfig",
    "SearchInterrupted",
    "SearchResult",
    "SearchStopped",
    "run_image_search",
]
__all__ += ["run_search", "serve_search_trials"]


def run_search(
    frame: pd.DataFrame,
    config: SearchConfig,
    *,
    workdir: Path,
    reporter: Reporter,
    pool: TrialPool | None = None,
) -> SearchResult:
    """Search a table's task, keep the best (or an ensemble), evaluate it once on the test split.

    pool: trials also run in other processes, which call `serve_search_trials`."""
    task = task_for(config, "table")
    return run_task(task, frame, config, workdir=workdir, reporter=reporter, pool=pool)


def run_image_search(
    archive_path: Path,
    config: SearchConfig,
    *,
    workdir: Path,
    reporter: Reporter,
    pool: TrialPool | None = None,
) -> SearchResult:
    """The same for an image archive: its images are decoded once, then CNNs are searched."""
    task = task_for(config, "images")
    return run_task(task, archive_path, config, workdir=workdir, reporter=reporter, pool=pool)


def serve_search_trials(
    data: pd.DataFrame | Path,
    config: SearchConfig,
    *,
    workdir: Path,
    reporter: Reporter,
    source: TrialSource,
) -> int:
    """Run another process's search's trials (a table, or an image archive's path) until it
    closes; how many ran here."""
    task = task_for(config, "table" if isinstance(data, pd.DataFrame) else "images")
    return serve_trials(task, data, config, workdir=workdir, reporter=reporter, source=source)
