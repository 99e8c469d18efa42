"""What the processes running one search hand each other (jobs.engine.pool): tickets, outcomes,
and the pool's interface. Plain data, no Keras, so that the web and the console's services
that store tickets as rows (jobs.services.trial_pool) can name them without importing Keras.

Core: imports no task and no other engine module.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

# How often an idle owner or runner looks for work, and how often a training owner pumps.
POLL_SECONDS = 0.2
PUMP_SECONDS = 1.0


@dataclass
class Ticket:
    """A trial handed out: its number in the job, the oracle's id, and its hyperparameters."""

    number: int
    trial_id: str
    spec: dict[str, Any]  # keras_tuner.HyperParameters.get_config(): the space and the values
    deadline: float | None = None  # wall clock (time.time()): the search's time budget
    any_finished: bool = False  # a trial already finished: a too slow first epoch is cut

    def values(self) -> dict[str, Any]:
        return dict(self.spec.get("values", {}))


@dataclass
class Outcome:
    """How a ticket's trial ended, in JSON-safe values."""

    status: str  # "COMPLETED" or "FAILED"
    metrics: dict[str, float] = field(default_factory=dict)  # at the best epoch
    best_step: int = 0
    epochs: int = 0
    seconds: float = 0.0
    spec: dict[str, Any] = field(default_factory=dict)  # after fit (which may add batch_size)
    error: str = ""
    runner: str = ""
    build_config: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=str))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Outcome:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


class TrialSource(Protocol):
    """Where a runner takes tickets from and leaves their outcomes."""

    def claim(self) -> Ticket | None:
        """A pending ticket, now this process's; None when none is pending."""
        ...

    def complete(self, ticket: Ticket, outcome: Outcome, weights: Path | None) -> None:
        """Keep the outcome, and the trial's best weights (a `.weights.h5` file) if any."""
        ...

    def closed(self) -> bool:
        """Whether the search hands out no more tickets (or is no longer running)."""
        ...


class TrialPool(TrialSource, Protocol):
    """The owner's side: hands tickets out and collects what came back."""

    size: int  # how many trials may run at once, the owner's own included

    def offer(self, ticket: Ticket) -> None: ...

    def finished(self) -> list[tuple[Ticket, Outcome]]:
        """Outcomes not collected before; a ticket whose runner was lost comes back FAILED."""
        ...

    def withdraw(self) -> list[Ticket]:
        """Take back the tickets nobody claimed yet (the search is stopping)."""
        ...

    def fetch_weights(self, ticket: Ticket, path: Path) -> bool:
        """Write the ticket's best weights to `path`; False when there are none."""
        ...

    def close(self) -> None:
        """No more tickets: runners stop."""
        ...


def reason(message: str | None) -> str:
    """The exception line of a failed trial's traceback, e.g. an out-of-memory error."""
    lines = [line for line in (message or "").strip().splitlines() if line.strip()]
    return lines[-1][:500] if lines else "The trial failed without a message."
