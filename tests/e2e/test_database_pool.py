"""The web's request threads borrow pooled PostgreSQL connections (console/settings.py,
DB_POOL_SIZE, set by runconsole): a burst of API calls is served by the same few backends
instead of a new connection, and a new PostgreSQL process, for every call."""

from __future__ import annotations

import psycopg
import pytest

from console.management.commands.runconsole import WEB_DB_POOL_SIZE
from tests.stack import ADMIN_PG_URL, Stack, processes_of

pytestmark = pytest.mark.stack


def _web_backends(stack: Stack) -> set[tuple[int, object]]:
    """The web's open connections to the stack's database: (backend pid, start)."""
    name = stack.env["DATABASE_URL"].rsplit("/", 1)[1]
    with psycopg.connect(ADMIN_PG_URL, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pid, backend_start FROM pg_stat_activity"
            " WHERE datname = %s AND application_name = 'console-web'",
            [name],
        ).fetchall()
    return {(int(pid), start) for pid, start in rows}


def _calls(stack: Stack, user: str, n: int) -> None:
    with stack.client(user) as client:
        for _ in range(n):
            assert client.get("/api/v1/jobs/").status_code == 200
            assert client.get("/api/v1/datasets/").status_code == 200


def test_api_calls_share_the_webs_pooled_connections(postgres_stack: Stack) -> None:
    stack = postgres_stack
    stack.add_user("pooled")
    # given the web after some calls
    _calls(stack, "pooled", 10)
    before = _web_backends(stack)
    # when many more calls follow
    _calls(stack, "pooled", 30)
    after = _web_backends(stack)
    # then the connections that served the first calls are still open and serve the next,
    # never more than the pools hold, one for each web process (one a call would leave none
    # open between calls)
    most = WEB_DB_POOL_SIZE * len(processes_of(stack, b"console.asgi"))
    assert 1 <= len(before) <= most
    assert before & after, (before, after)
    assert len(before | after) <= most
