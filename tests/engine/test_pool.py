"""One search's trials handed out as tickets (jobs.engine.pool): the owner feeds every outcome
back into the oracle, a lost runner costs only its trial, and the best trials' weights come
back from where runners left them, not from the owner's disk."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from jobs.engine.search import SearchConfig, run_search, serve_search_trials
from jobs.engine.tickets import Outcome, Ticket
from tests.conftest import RecordingReporter


class MemoryPool:
    """Tickets in a list and weights in a folder (the storage), with a scripted second runner:
    whenever the owner looks for work, the "remote" runner first takes every other ticket
    (trained in this process by serve_search_trials, as a runner would), and the ticket
    numbered `lose` is claimed and then never heard of again (its runner died)."""

    def __init__(self, store: Path, frame: pd.DataFrame, config: SearchConfig, lose: int) -> None:
        self.size = 2
        self.store = store
        self.frame, self.config, self.lose = frame, config, lose
        self.pending: list[Ticket] = []
        self.done: list[tuple[Ticket, Outcome]] = []
        self.ran_by: dict[int, list[str]] = {}
        self.offered: list[int] = []
        self.is_closed = False
        self._serving: Ticket | None = None

    # the owner's side
    def offer(self, ticket: Ticket) -> None:
        self.offered.append(ticket.number)
        self.pending.append(ticket)

    def finished(self) -> list[tuple[Ticket, Outcome]]:
        done, self.done = self.done, []
        return done

    def withdraw(self) -> list[Ticket]:
        taken, self.pending = self.pending, []
        return taken

    def fetch_weights(self, ticket: Ticket, path: Path) -> bool:
        stored = self.store / f"{ticket.number}.weights.h5"
        if not stored.exists():
            return False
        shutil.copy(stored, path)
        return True

    def close(self) -> None:
        self.is_closed = True

    def claim(self) -> Ticket | None:
        self._run_remote()
        return self._take("owner")

    def complete(self, ticket: Ticket, outcome: Outcome, weights: Path | None) -> None:
        if weights is not None:
            shutil.copy(weights, self.store / f"{ticket.number}.weights.h5")
        self.done.append((ticket, outcome))

    def closed(self) -> bool:
        return self.is_closed

    def _take(self, runner: str) -> Ticket | None:
        if not self.pending:
            return None
        ticket = self.pending.pop(0)
        self.ran_by.setdefault(ticket.number, []).append(runner)
        return ticket

    def _run_remote(self) -> None:
        if len(self.pending) < 2:
            return
        ticket = self.pending[1]
        if ticket.number == self.lose:
            self.pending.remove(ticket)
            self.ran_by.setdefault(ticket.number, []).append("lost")
            self.done.append((ticket, Outcome("FAILED", error="The runner was lost.")))
            return
        self.pending.remove(ticket)
        self.pending.insert(0, ticket)
        remote = _OneTicket(self, ticket)
        serve_search_trials(
            self.frame, self.config, workdir=self.store / "remote", reporter=remote, source=remote
        )


class _OneTicket(RecordingReporter):
    """A remote runner's source and reporter that serves one ticket, then closes."""

    def __init__(self, pool: MemoryPool, ticket: Ticket) -> None:
        super().__init__()
        self.pool, self.ticket, self.served = pool, ticket, False

    def claim(self) -> Ticket | None:
        self.served = True
        return self.pool._take("remote")

    def complete(self, ticket: Ticket, outcome: Outcome, weights: Path | None) -> None:
        self.pool.complete(ticket, outcome, weights)

    def closed(self) -> bool:
        return self.served


def test_tickets_run_in_two_places_feed_one_oracle_and_a_lost_one_costs_only_its_trial(
    cancer_frame: pd.DataFrame, tmp_path: Path
) -> None:
    config = SearchConfig(
        target="diagnosis", task_type="binary", max_trials=4, max_epochs=2, max_seconds=None
    )
    store = tmp_path / "storage"
    store.mkdir()
    pool = MemoryPool(store, cancer_frame, config, lose=4)
    reporter = RecordingReporter()

    result = run_search(
        cancer_frame, config, workdir=tmp_path / "owner", reporter=reporter, pool=pool
    )

    # every trial was handed out once, ran once, in one place or the other
    assert sorted(pool.offered) == [1, 2, 3, 4]
    assert all(len(where) == 1 for where in pool.ran_by.values()), pool.ran_by
    places = {where[0] for where in pool.ran_by.values()}
    assert {"owner", "remote", "lost"} <= places, pool.ran_by
    # the owner reported every trial's end, the lost one as failed
    ends = {number: status for number, status, _, _ in reporter.finished}
    assert ends == {1: "COMPLETED", 2: "COMPLETED", 3: "COMPLETED", 4: "FAILED"}
    assert "lost" in reporter.errors[[n for n, *_ in reporter.finished].index(4)]
    # and the best model came back from the stored weights
    assert pool.is_closed
    assert result.best_trial in {1, 2, 3}
    assert result.test_metrics["accuracy"] > 0.5
    assert result.manifest["max_trials"] == 4


def test_without_runners_the_owner_runs_every_ticket_itself(
    cancer_frame: pd.DataFrame, tmp_path: Path
) -> None:
    # given a pool of two that no runner ever serves (one worker process on the host)
    config = SearchConfig(
        target="diagnosis", task_type="binary", max_trials=2, max_epochs=1, max_seconds=None
    )
    store = tmp_path / "storage"
    store.mkdir()
    pool = MemoryPool(store, cancer_frame, config, lose=0)
    pool._run_remote = lambda: None  # type: ignore[method-assign]
    reporter = RecordingReporter()

    # then the search still ends, every trial run by its owner
    run_search(cancer_frame, config, workdir=tmp_path / "owner", reporter=reporter, pool=pool)
    assert pool.ran_by == {1: ["owner"], 2: ["owner"]}
    assert [status for _, status, _, _ in reporter.finished] == ["COMPLETED"] * 2
