"""A worker's warm shutdown reaching the training job its pool process runs.

Celery's warm shutdown (SIGTERM to the worker) waits for running tasks to finish: for a
training job that is the whole search, hours perhaps, and whoever stops the worker (a deploy,
`docker stop`, the supervisor of `make run`) gives up long before and kills it; the job then
waits for the reaper. Instead, while a job trains, the signal asks its search to stop at the
next batch (the engine asks the reporter about once a second): the trial under way is given up,
the finished ones stay in the saved search, and the job goes back to the queue for another
worker to resume (jobs.services.training.job_run).

The signal reaches the pool process either directly (SIGTERM to the worker's process group:
the supervisor, systemd) or from the worker's main process, which on its warm shutdown passes
NOTICE to its children (SIGTERM to the main process only: `docker stop`, `kill <pid>`). A pool
process ignores NOTICE except while it trains, so other tasks (a batch prediction, say) still
finish as a warm shutdown promises.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import billiard

logger = logging.getLogger(__name__)

# What the worker's main process sends its pool processes when it starts a warm shutdown.
NOTICE = signal.SIGUSR2

_stopping = threading.Event()


def stopping() -> bool:
    """Whether this process was asked to stop while it trained."""
    return _stopping.is_set()


def ignore_notice() -> None:
    """In a fresh pool process: NOTICE means nothing until a training job runs (its default
    action would end the process). billiard leaves an ignored signal ignored."""
    signal.signal(NOTICE, signal.SIG_IGN)


def notify_children() -> None:
    """In the worker's main process, on its warm shutdown: tell each pool process."""
    pid = os.getpid()
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:  # not Linux: only a signal to the whole group reaches the job
        return
    for child in found:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(int(child), NOTICE)


@contextlib.contextmanager
def handing_back_on_stop() -> Iterator[None]:
    """While a training job runs here, SIGTERM and NOTICE set stopping() instead of ending the
    process at once; the search sees it within about a second."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread; an eager test call runs elsewhere
        return
    _stopping.clear()
    previous: dict[int, Any] = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, NOTICE)}

    def on_stop(signum: int, frame: FrameType | None) -> None:
        _stopping.set()
        chained = previous[signum]
        # In a solo worker the job runs in the main process: Celery's own handler must still
        # start the warm shutdown. A pool process's handler (billiard's) would exit at once.
        if (
            signum == signal.SIGTERM
            and billiard.current_process().name == "MainProcess"
            and callable(chained)
        ):
            chained(signum, frame)

    for sig in previous:
        signal.signal(sig, on_stop)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
