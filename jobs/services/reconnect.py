"""Riding out a database restart under a long-running attempt.

The web process opens a connection per request and the worker's loops close theirs after each
pass, so both reconnect by themselves. A training attempt is different: one task holds one
connection for minutes or hours, and a PostgreSQL restart (or a failover) kills it under it.
Without this, the next heartbeat or epoch write raises, the engine counts the trial as failed,
and the job fails with an "server closed the connection" that says nothing to its owner.

`reconnecting` retries such a write on a new connection while the database comes back
(RECONNECT_WAIT_S, with back-off). Only a lost connection is retried: an error on a live one,
or one inside a transaction the caller opened, is raised as it is. The writes it wraps are
safe to repeat: each is its own transaction, which the lost connection rolled back.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import InterfaceError, OperationalError, connection

logger = logging.getLogger(__name__)
# As long as a database restart or a managed failover takes, with room to spare; the job's
# heartbeat stops meanwhile, so this stays under the stale threshold's order of magnitude.
RECONNECT_WAIT_S = 60.0

P = ParamSpec("P")
R = TypeVar("R")


def connection_lost() -> bool:
    """Whether the default connection is gone (closed by the server, or never reopened)."""
    if connection.connection is None:
        return True
    try:
        return not connection.is_usable()
    except Exception:
        return True


def reconnecting(write: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(write)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        deadline = time.monotonic() + RECONNECT_WAIT_S
        delay = 0.25
        while True:
            try:
                return write(*args, **kwargs)
            except (OperationalError, InterfaceError) as exc:
                if connection.in_atomic_block or not connection_lost():
                    raise
                if time.monotonic() + delay > deadline:
                    raise
                logger.warning("The database connection was lost (%s); reconnecting", exc)
                connection.close()
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    return wrapper
