"""A predictor killed under load: another replica keeps serving throughout, and the killed one,
restarted by runconsole, serves every READY deployment again within seconds."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pandas as pd
import pytest

from console.management.commands.runconsole import predictor_argv
from tests.conftest import breast_cancer_csv
from tests.e2e import flow
from tests.stack import Stack, free_port, process_of

pytestmark = pytest.mark.stack

USER = "replicas"
NAME = "replicated"
PREDICTOR = b"console.predictor_asgi:application"
# A restart waits 1 s (runconsole's first back-off), then imports Keras and loads the model.
BACK_WITHIN_S = 30.0


@pytest.fixture
def second_replica(postgres_stack: Stack) -> Iterator[str]:
    """One more predictor on the stack's database, as a second replica runs in production."""
    port = free_port()
    env = {
        **postgres_stack.env,
        "DJANGO_SETTINGS_MODULE": "console.predictor_settings",
        "DB_APPLICATION_NAME": "console-predictor-2",
    }
    argv = [sys.executable, *predictor_argv("127.0.0.1", port)[1:]]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _predict(url: str, token: str, rows: list[dict[str, object]]) -> int:
    try:
        answer = httpx.post(
            f"{url}/v1/deployments/{NAME}/predict",
            json={"instances": rows},
            headers={"Authorization": f"Token {token}"},
            timeout=10,
        )
    except httpx.TransportError:
        return 0  # nothing listening: the killed process, before its restart
    return answer.status_code


def _serves(url: str, token: str, rows: list[dict[str, object]], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _predict(url, token, rows) == 200:
            return True
        time.sleep(0.2)
    return False


def test_a_killed_predictor_is_back_within_seconds_while_another_replica_serves(
    postgres_stack: Stack, second_replica: str
) -> None:
    stack = postgres_stack
    stack.add_user(USER)
    client, token = stack.client(USER), stack.tokens[USER]
    dataset = flow.upload(client, breast_cancer_csv(rows=120), name="replicas.csv")
    job = flow.create_job(client, dataset["id"], max_trials=1, max_epochs=2)
    flow.watch_job(stack, job["id"], USER)
    version = client.get(f"/api/v1/jobs/{job['id']}/").json()["model_version"]
    answer = client.post(f"/api/v1/model-versions/{version}/deploy/", json={"name": NAME})
    assert answer.status_code == 201, answer.text
    assert flow.wait_ready(client, NAME)["status"] == "READY"
    table = pd.read_csv(io.BytesIO(breast_cancer_csv())).drop(columns="diagnosis")
    rows = table.iloc[:4].to_dict("records")
    assert _serves(stack.predictor_url, token, rows, 30)
    assert _serves(second_replica, token, rows, 60), "the second replica never served"

    # when the first predictor is killed while both are under load
    answers: Counter[int] = Counter()
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            answers[_predict(second_replica, token, rows)] += 1

    threads = [threading.Thread(target=load) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(2)
        old = process_of(stack, PREDICTOR)
        assert old is not None
        os.kill(old, signal.SIGKILL)
        killed_at = time.monotonic()
        # then the killed one comes back, under a new pid, and serves the deployment again
        assert _serves(stack.predictor_url, token, rows, BACK_WITHIN_S), (
            f"the predictor did not serve '{NAME}' again within {BACK_WITHIN_S} s"
        )
        back_after = time.monotonic() - killed_at
        time.sleep(1)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert process_of(stack, PREDICTOR) not in (None, old)
    # and the other replica answered every request of the load, before, during and after
    assert set(answers) == {200}, answers
    assert answers[200] > 20, answers
    print(f"predictor back after {back_after:.1f} s; the other replica answered {answers[200]}")
