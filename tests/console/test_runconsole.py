"""`runconsole` as a supervisor: a process that dies is restarted, the others keep serving, and
SIGTERM still stops everything."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from console.supervisor import restart_delay
from tests.conftest import breast_cancer_csv
from tests.e2e import flow
from tests.stack import Stack, children, process_of, running_stack

WEB = b"console.asgi:application"
PREDICTOR = b"console.predictor_asgi:application"
WORKER = b"celery\x00-A\x00console\x00worker\x00-Q\x00cpu"


def test_restart_delay_doubles_from_the_base_up_to_the_cap() -> None:
    delays = [restart_delay(n, base=0.5, cap=5) for n in range(1, 8)]
    assert delays == [0.5, 1, 2, 4, 5, 5, 5]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack("embedded", tmp_path_factory.mktemp("supervised")) as stack:
        yield stack


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _kill_and_wait_for_restart(
    stack: Stack, needle: bytes, url: str | None, others: list[str], timeout: float = 60
) -> int:
    """kill -9 one child; the others answer throughout, and a new one (answering) comes back."""
    old = process_of(stack, needle)
    assert old is not None, f"no {needle!r} child of runconsole"
    os.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    new = None
    while time.monotonic() < deadline:
        for other in others:
            assert _healthy(other), f"{other} stopped answering after {needle!r} was killed"
        new = process_of(stack, needle)
        if new not in (None, old) and (url is None or _healthy(url)):
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"{needle!r} not back within {timeout}s: {children(stack.pid)}")
    assert stack.process is not None
    assert stack.process.poll() is None, "runconsole exited"
    assert new is not None
    return new


@pytest.mark.stack
def test_the_data_directory_is_private_to_the_console(stack: Stack) -> None:
    assert stack.data_dir.stat().st_mode & 0o777 == 0o700


@pytest.mark.stack
def test_a_killed_predictor_is_restarted_while_the_web_keeps_serving(stack: Stack) -> None:
    _kill_and_wait_for_restart(stack, PREDICTOR, stack.predictor_url, [stack.url])


@pytest.mark.stack
def test_a_killed_web_process_is_restarted_while_the_predictor_keeps_serving(
    stack: Stack,
) -> None:
    _kill_and_wait_for_restart(stack, WEB, stack.url, [stack.predictor_url])
    # and it serves the API, not only its health check
    answer = stack.client("owner").get("/api/v1/datasets/")
    assert answer.status_code == 200


@pytest.mark.stack
def test_a_call_made_while_the_web_is_down_waits_for_its_restart(stack: Stack) -> None:
    # given the web process killed, its restart a second away (runconsole's first delay)
    old = process_of(stack, WEB)
    assert old is not None
    os.kill(old, signal.SIGKILL)
    while process_of(stack, WEB) == old:
        time.sleep(0.01)
    # when a call comes before a web process is back
    assert process_of(stack, WEB) is None
    answer = stack.client("owner").get("/api/v1/datasets/", timeout=60)
    # then runconsole's listening socket held it until the new web process took it: answered,
    # not refused
    assert answer.status_code == 200
    assert process_of(stack, WEB) not in (None, old)


@pytest.mark.stack
def test_a_killed_worker_is_restarted_and_takes_work_again(stack: Stack) -> None:
    _kill_and_wait_for_restart(stack, WORKER, None, [stack.url, stack.predictor_url])
    dataset = flow.upload(stack.client("owner"), breast_cancer_csv(rows=60))
    assert dataset["status"] == "READY", dataset["error"]


@pytest.mark.stack
def test_sigterm_still_stops_every_process(stack: Stack) -> None:
    assert stack.process is not None
    pids = children(stack.pid)
    assert len(pids) >= 3, pids
    os.kill(stack.pid, signal.SIGTERM)
    assert stack.process.wait(timeout=60) == 0
    for pid in pids:
        # Gone, or a zombie nobody waits for: runconsole waited for each of its children.
        stat = Path(f"/proc/{pid}/stat")
        assert not stat.exists(), f"{pid} outlived runconsole: {stat.read_text()}"
    # and its port is closed: a new connection is refused, not left waiting in a queue
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{stack.url}/healthz", timeout=5)
