"""Redis restarts without its data under a running console: every job still completes, none is
lost and none runs twice. The restart is what the processes see of one: every connection to
the stack's Redis database ends and the database is empty (FLUSHDB: the queued messages, the
reconciler's marker), while one job trains and another waits in the queue."""

from __future__ import annotations

from typing import Any, cast

import pytest
import redis

from tests.conftest import breast_cancer_csv
from tests.e2e import flow
from tests.stack import Stack

pytestmark = pytest.mark.stack


def _restart(stack: Stack) -> int:
    """Empty the stack's Redis database and end its clients; how many were ended."""
    url = stack.env["REDIS_URL"]
    index = int(url.rsplit("/", 1)[1])
    admin = redis.Redis.from_url(url)
    admin.flushdb()
    me = str(admin.client_id())
    clients: list[dict[str, str]] = cast(Any, admin.client_list())
    ended = 0
    for client in clients:
        if int(client["db"]) == index and client["id"] != me:
            ended += int(cast(Any, admin.client_kill_filter(_id=client["id"])))
    return ended


def test_jobs_running_and_queued_complete_after_redis_restarts_empty(
    postgres_stack: Stack,
) -> None:
    stack = postgres_stack
    stack.add_user("brokered")
    client = stack.client("brokered")
    dataset = flow.upload(client, breast_cancer_csv(rows=240), name="brokered.csv")
    running = flow.create_job(client, dataset["id"], max_trials=2, max_epochs=12)
    flow.wait_mid_search(client, running["id"])
    # the one training worker is busy: this one waits in the broker
    queued = flow.create_job(client, dataset["id"], max_trials=1, max_epochs=2)

    # when Redis restarts, empty
    assert _restart(stack) >= 1

    # then the running job finishes in its attempt, and the queued one, whose message was
    # lost, is sent again by the reconciler and runs once
    for job, trials in ((running, [1, 2]), (queued, [1])):
        events = flow.watch_job(stack, job["id"], "brokered", timeout=240)
        final = client.get(f"/api/v1/jobs/{job['id']}/").json()
        assert final["status"] == "SUCCEEDED", final["error"]
        started = sorted(e["payload"]["trial"] for e in events if e["kind"] == "trial_started")
        assert started == trials, events
