"""PostgreSQL restarts under a running console: web, worker and predictor reconnect and carry
on. The restart is what each process sees of one: the server ends every backend of the
console's database and refuses new connections to it for a few seconds, mid-search."""

from __future__ import annotations

import io
import time

import httpx
import pandas as pd
import psycopg
import pytest

from tests.conftest import breast_cancer_csv
from tests.e2e import flow
from tests.stack import ADMIN_PG_URL, Stack

pytestmark = pytest.mark.stack


def _restart(stack: Stack, down_s: float) -> int:
    """How many backends the 'restart' ended."""
    name = stack.env["DATABASE_URL"].rsplit("/", 1)[1]
    with psycopg.connect(ADMIN_PG_URL, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            row = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s",
                [name],
            ).fetchone()
            time.sleep(down_s)
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    return int(row[0]) if row else 0


def test_web_worker_and_predictor_carry_on_after_postgres_restarts(postgres_stack: Stack) -> None:
    stack = postgres_stack
    stack.add_user("restarted")
    client = stack.client("restarted")
    dataset = flow.upload(client, breast_cancer_csv(rows=240), name="restarted.csv")
    job = flow.create_job(client, dataset["id"], max_trials=2, max_epochs=12)
    flow.wait_mid_search(client, job["id"])

    # when the database restarts with the second trial under way, down for 3 s
    ended = _restart(stack, down_s=3.0)
    # (at least the training attempt's, held for its whole task, and the predictor's listener;
    # the web and the reapers hold theirs only while they ask)
    assert ended >= 2

    # then the search carried on where it was, in the same attempt: no trial failed or ran
    # again, and the job succeeded
    events = flow.watch_job(stack, job["id"], "restarted", timeout=240)
    final = client.get(f"/api/v1/jobs/{job['id']}/").json()
    assert final["status"] == "SUCCEEDED", final["error"]
    statuses = [e["payload"]["status"] for e in events if e["kind"] == "job_status"]
    assert "QUEUED" not in statuses[1:], statuses
    assert sorted(e["payload"]["trial"] for e in events if e["kind"] == "trial_started") == [1, 2]
    assert [t["status"] for t in final["trials"]] == ["COMPLETED", "COMPLETED"]

    # and the predictor, whose listener was ended too, hears of a new deployment and serves it
    version = final["model_version"]
    answer = client.post(f"/api/v1/model-versions/{version}/deploy/", json={"name": "restarted"})
    assert answer.status_code == 201, answer.text
    assert flow.wait_ready(client, "restarted")["status"] == "READY"
    rows = pd.read_csv(io.BytesIO(breast_cancer_csv())).drop(columns="diagnosis").iloc[:2]
    predicted = httpx.post(
        f"{stack.predictor_url}/v1/deployments/restarted/predict",
        json={"instances": rows.to_dict("records")},
        headers={"Authorization": f"Token {stack.tokens['restarted']}"},
    )
    assert predicted.status_code == 200, predicted.text
    assert len(predicted.json()["predictions"]) == 2
