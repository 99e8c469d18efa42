"""What a search tells its caller while it runs, and how it ends early: core, imports no task.

Apart from `results` (which needs Keras for the model it gives back) so that the web process,
which records what a worker reports but never trains, can name these without importing Keras.
"""

from __future__ import annotations

from typing import Any, Protocol


class Reporter(Protocol):
    def trial_started(self, number: int, hyperparameters: dict[str, Any]) -> None: ...

    def epoch_end(self, number: int, epoch: int, metrics: dict[str, float]) -> None: ...

    def trial_finished(
        self,
        number: int,
        status: str,
        score: float | None,
        hyperparameters: dict[str, Any],
        error: str = "",
    ) -> None: ...

    def cancelled(self) -> bool:
        """Asked between batches (at most about once a second): should the search stop now?

        Raises SearchInterrupted when the process itself is stopping: the search then ends at
        once, reporting neither the trial under way nor anything after it.
        """
        ...


class SearchStopped(Exception):
    """The search was cancelled before any trial completed an epoch: there is no model."""


class SearchInterrupted(Exception):
    """The process running the search is stopping (a worker's warm shutdown).

    The trial under way is given up unreported and the tuner state is not saved again, so the
    search saved after the last finished trial is what a resumed attempt starts from: it runs
    the interrupted trial again, and none of the finished ones.
    """
