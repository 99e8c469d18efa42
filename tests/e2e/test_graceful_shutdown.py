"""SIGTERM to each process of a running console, as a deploy or `docker stop` sends it: what is
under way finishes or is handed on, and nothing is lost.

A training worker hands its job back at the next batch and exits within seconds; another
worker resumes the saved search without running its finished trials again. The web and the
predictor finish the request in flight (within their grace, runconsole.SERVER_GRACE_SECONDS)
while taking no new connection: the predictor refuses them; the web's are answered by its
other process, which shares the listening socket. On the session's stack: each stopped
process is started again by runconsole's supervisor, which the test waits for.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pandas as pd
import pytest

from jobs.services.reporter import HANDED_BACK
from tests.conftest import breast_cancer_csv
from tests.e2e import flow
from tests.stack import (
    Stack,
    children,
    process_of,
    processes_of,
    sockets_held,
    tcp_sockets,
)

pytestmark = pytest.mark.stack


def _niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].split()[16])


def _exited(pid: int) -> bool:
    try:
        # A zombie until the supervisor reaps it: exited all the same.
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except FileNotFoundError:
        return True


def _wait_exit(pid: int, since: float, within: float) -> None:
    while not _exited(pid):
        assert time.monotonic() - since < within, f"process {pid} still runs after {within} s"
        time.sleep(0.1)


def _wait_back(url: str, timeout: float = 120) -> None:
    """The supervisor started the process again: leave the session's stack as it was."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not come back")


def _refuses_connections(url: str) -> bool:
    parsed = urlparse(url)
    try:
        socket.create_connection((parsed.hostname, parsed.port or 80), timeout=2).close()
    except OSError:
        return True
    return False


def _read_response(raw: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = raw.recv(65536)
        assert chunk, f"the connection closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (x.split(":", 1) for x in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = raw.recv(65536)
        assert chunk, "the connection closed inside the response body"
        body += chunk
    return int(lines[0].split()[1]), headers, body


def _server_end(raw: socket.socket, pids: list[int]) -> int:
    """Which of these processes accepted the connection `raw` is the client end of."""
    mine, server = raw.getsockname()[1], raw.getpeername()[1]
    inodes = {i for local, remote, _, i in tcp_sockets() if (local, remote) == (server, mine)}
    holders = [pid for pid in pids if sockets_held(pid, inodes)]
    assert len(holders) == 1, (pids, holders)
    return holders[0]


def _answers_new_connections(url: str) -> bool:
    """Five new connections in a row, each answered within a few seconds."""
    for _ in range(5):
        with httpx.Client(timeout=5) as fresh:
            if fresh.get(f"{url}/healthz").status_code != 200:
                return False
    return True


def _through_sigterm(
    url: str, pids: list[int], head: str, body: bytes
) -> tuple[int, dict[str, str]]:
    """Sends `head` with `Expect: 100-continue`; once the app asks for the body (the request
    is in the app's hands), SIGTERM the one of `pids` that holds the connection and check that
    it takes no new connection: it lets go of its listening socket, and new connections are
    refused, or, where other processes share that socket, answered by them at once. Only then
    send the body. The answer's status and headers; the process has exited by then."""
    parsed = urlparse(url)
    port = parsed.port or 80
    with socket.create_connection((parsed.hostname, port), timeout=60) as raw:
        raw.sendall(
            f"{head}Host: {parsed.netloc}\r\nContent-Length: {len(body)}\r\n"
            "Expect: 100-continue\r\n\r\n".encode()
        )
        status, _, _ = _read_response(raw)
        assert status == 100
        pid = _server_end(raw, pids)
        listening = {i for local, _, state, i in tcp_sockets() if (local, state) == (port, "0A")}
        assert sockets_held(pid, listening)
        stopped_at = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        deadline = stopped_at + 10
        while sockets_held(pid, listening):
            assert time.monotonic() < deadline, "the stopping server still holds its socket"
            time.sleep(0.05)
        if len(pids) == 1:
            assert _refuses_connections(url), "the server still takes new connections"
        else:
            assert _answers_new_connections(url), "the other web process did not answer"
        raw.sendall(body)
        status, headers, answer = _read_response(raw)
    assert 200 <= status < 300, answer
    # It goes once its last request is answered, well within its grace.
    _wait_exit(pid, stopped_at, 15)
    return status, headers


def test_a_worker_and_predictor_stopped_mid_work_lose_nothing(postgres_stack: Stack) -> None:
    stack = postgres_stack
    stack.add_user("stopper")
    client = stack.client("stopper")
    # Small: the resumed search ends soon after the hand-back.
    dataset = flow.upload(client, breast_cancer_csv(rows=240), name="stopped.csv")
    job = flow.create_job(client, dataset["id"], max_trials=2, max_epochs=8)
    finished_before = flow.wait_mid_search(client, job["id"])
    worker = process_of(stack, b"worker\x00-Q\x00cpu")
    assert worker is not None
    # (the training runs at a lower CPU priority than the worker, the web and the predictor)
    assert 10 in [_niceness(pid) for pid in children(worker)]
    assert {_niceness(pid) for pid in children(stack.pid)} == {0}

    # when the worker's main process alone gets SIGTERM (as from `docker stop`) mid-search
    os.kill(worker, signal.SIGTERM)

    # then it stops within seconds, not at the end of the search
    _wait_exit(worker, time.monotonic(), 30)

    # and the job went back to the queue with a reason, and the next worker finished it
    events = flow.watch_job(stack, job["id"], "stopper", timeout=240)
    final = client.get(f"/api/v1/jobs/{job['id']}/").json()
    assert final["status"] == "SUCCEEDED", final["error"]
    statuses = [e["payload"] for e in events if e["kind"] == "job_status"]
    assert {"status": "QUEUED", "reason": HANDED_BACK, "attempt": 1} in statuses, statuses
    # handed back, not lost: the reaper had nothing to do
    assert not [s for s in statuses if s.get("reason") == "worker lost; retrying"], statuses
    flow.assert_resumed(events, final, finished_before, trials=2)

    # when its model serves and the predictor gets SIGTERM with a prediction in flight
    version = final["model_version"]
    answer = client.post(f"/api/v1/model-versions/{version}/deploy/", json={"name": "stopped"})
    assert answer.status_code == 201, answer.text
    assert flow.wait_ready(client, "stopped")["status"] == "READY"
    rows = pd.read_csv(io.BytesIO(breast_cancer_csv())).drop(columns="diagnosis").iloc[:3]
    body = json.dumps({"instances": rows.to_dict("records")}).encode()
    predict = "/v1/deployments/stopped/predict"
    warm = client.post(
        f"{stack.predictor_url}{predict}",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert warm.status_code == 200, warm.text  # the model is loaded: the wait is the body's
    predictor = process_of(stack, b"console.predictor_asgi")
    assert predictor is not None
    head = (
        f"POST {predict} HTTP/1.1\r\nAuthorization: Token {stack.tokens['stopper']}\r\n"
        "Content-Type: application/json\r\n"
    )

    # then the prediction is answered before the process exits
    _through_sigterm(stack.predictor_url, [predictor], head, body)
    _wait_back(stack.predictor_url)


def test_the_web_finishes_an_upload_in_flight_on_sigterm(postgres_stack: Stack) -> None:
    stack = postgres_stack
    stack.add_user("stopper")
    client = stack.client("stopper")
    content = breast_cancer_csv()
    upload = client.post("/api/v1/uploads/", json={"filename": "late.csv", "size": len(content)})
    assert upload.status_code == 201, upload.text
    # (two web processes by default on PostgreSQL and Redis, sharing one listening socket)
    webs = processes_of(stack, b"console.asgi")
    assert len(webs) == 2, webs
    head = (
        f"PATCH /api/v1/uploads/{upload.json()['id']}/ HTTP/1.1\r\n"
        f"Authorization: Token {stack.tokens['stopper']}\r\nUpload-Offset: 0\r\n"
        "Content-Type: application/offset+octet-stream\r\n"
    )

    # when the web gets SIGTERM while the PATCH's body is still to come
    _, headers = _through_sigterm(stack.url, webs, head, content)

    # then every byte was stored, and the next web process goes on from there
    assert int(headers["upload-offset"]) == len(content)
    _wait_back(stack.url)
    deadline = time.monotonic() + 120
    while len(processes_of(stack, b"console.asgi")) < 2:  # the stopped one, restarted
        assert time.monotonic() < deadline, "the stopped web process was not started again"
        time.sleep(0.3)
    stored = client.get(f"/api/v1/uploads/{upload.json()['id']}/")
    assert int(stored.headers["Upload-Offset"]) == len(content)
