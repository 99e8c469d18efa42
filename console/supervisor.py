"""Keeps a few long-running processes up: each is restarted with capped exponential back-off
when it dies, and one dying never stops the others; SIGTERM or SIGINT stops them all.

Why not an existing tool: honcho (what `make run` used to resemble) stops everything when one
process exits and restarts nothing; supervisord and circus restart, but run as daemons with
their own configuration files and control sockets, which `make run` and the end-to-end tests
would have to write, start and tear down for three commands. The loop below is what those do
for this case: poll, restart after a delay that doubles on each quick failure, stop by group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def restart_delay(failures: int, *, base: float, cap: float) -> float:
    """Seconds to wait before the next start after `failures` quick failures in a row."""
    return float(min(cap, base * 2 ** max(failures - 1, 0)))


@dataclass
class Program:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    # Descriptors the process inherits (a listening socket its restarts serve as well).
    pass_fds: tuple[int, ...] = ()
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    # Quick failures in a row; a run that lasted `stable_after` seconds resets it.
    failures: int = 0
    start_at: float = 0.0
    starts: int = 0


class Supervisor:
    def __init__(
        self,
        programs: Sequence[Program],
        *,
        log: Callable[[str], None],
        listeners: Sequence[socket.socket] = (),
        base_delay: float = 1.0,
        max_delay: float = 30.0,
        stable_after: float = 60.0,
        stop_timeout: float = 15.0,
        poll: float = 0.2,
    ) -> None:
        self.programs = list(programs)
        self.log = log
        self.listeners = list(listeners)
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.stable_after = stable_after
        self.stop_timeout = stop_timeout
        self.poll = poll
        self.stopping = False

    def request_stop(self, *_: Any) -> None:
        self.stopping = True

    def _start(self, program: Program) -> None:
        # A session (and process group) of its own: the terminal's Ctrl-C reaches only this
        # supervisor, which stops the children in order, and a child's leftovers (a Celery pool
        # whose parent died) can be found and ended by group.
        program.proc = subprocess.Popen(
            program.argv, env=dict(program.env), start_new_session=True, pass_fds=program.pass_fds
        )
        program.started_at = time.monotonic()
        program.starts += 1
        if program.starts > 1:
            self.log(f"{program.name} restarted (pid {program.proc.pid})")

    def _reap(self, program: Program) -> None:
        proc = program.proc
        assert proc is not None
        # Whatever the dead process left in its group (a Celery pool child still training a
        # job it no longer reports on) goes with it: the job's heartbeat stops and the reaper
        # retries it, rather than two attempts running once the worker is back.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        now = time.monotonic()
        if now - program.started_at >= self.stable_after:
            program.failures = 0
        program.failures += 1
        delay = restart_delay(program.failures, base=self.base_delay, cap=self.max_delay)
        program.start_at = now + delay
        program.proc = None
        self.log(f"{program.name} exited with {proc.returncode}; restarting in {delay:g} s")

    def run(self) -> None:
        """Run until stop is requested, then stop every program; install the handlers first."""
        try:
            while not self.stopping:
                now = time.monotonic()
                for program in self.programs:
                    if program.proc is None:
                        if now >= program.start_at:
                            self._start(program)
                    elif program.proc.poll() is not None:
                        self._reap(program)
                time.sleep(self.poll)
        finally:
            self.stop_all()

    def stop_all(self) -> None:
        for listener in self.listeners:
            listener.close()
        running = [p.proc for p in self.programs if p.proc is not None and p.proc.poll() is None]
        for proc in running:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for proc in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            # Past the grace period, or left behind by a parent that did stop: not kept running.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
