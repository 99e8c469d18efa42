"""A GPU worker runs one pool process per card in GPU_DEVICES, each given its own card: the
compose file's GPU service is one worker for all of a host's cards (docker-compose.yml)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from console.celery import card_for
from tests.stack import ROOT, children, embedded_env

PINNED = re.compile(rb"Pool process (\d+) \(pid (\d+)\) trains on GPU (\w+)")


def test_each_pool_index_keeps_one_card() -> None:
    assert [card_for(i, ["3", "5"]) for i in range(4)] == ["3", "5", "3", "5"]
    assert card_for(0, []) is None  # no GPU_DEVICES: the worker pins nothing


def _pinned(log: Path) -> list[tuple[int, int, str]]:
    """(pool index, pid, card) of each pool process as it started."""
    return [(int(i), int(pid), card.decode()) for i, pid, card in PINNED.findall(log.read_bytes())]


def _wait(log: Path, proc: subprocess.Popen[bytes], done: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 120
    while not done():
        assert proc.poll() is None, log.read_text()[-4000:]
        assert time.monotonic() < deadline, f"{what}:\n{log.read_text()[-4000:]}"
        time.sleep(0.3)


def test_a_gpu_worker_gives_each_pool_process_its_own_card(tmp_path: Path) -> None:
    env = embedded_env(tmp_path, {"GPU_DEVICES": "7, 9"})
    log = tmp_path / "worker.log"
    # As the compose file starts it: no --concurrency, which comes from GPU_DEVICES.
    argv = [sys.executable, "-m", "celery", "-A", "console", "worker", "-Q", "gpu"]
    argv += ["--max-tasks-per-child", "1", "--loglevel", "INFO", "-n", f"gpu-{os.getpid()}@%h"]
    with log.open("wb") as out:
        worker = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait(log, worker, lambda: len(_pinned(log)) >= 2, "two pool processes pinned")
        first = sorted(_pinned(log))
        assert [(index, card) for index, _, card in first] == [(0, "7"), (1, "9")]
        assert re.search(rb"concurrency:\s+2 \(prefork\)", log.read_bytes())
        assert sorted(children(worker.pid)) == sorted(pid for _, pid, _ in first)
        # A pool process that dies is replaced on the card it held: never two on one card.
        index, lost, card = first[1]
        os.kill(lost, signal.SIGKILL)
        _wait(log, worker, lambda: len(_pinned(log)) >= 3, "the lost process replaced")
        (replacement,) = _pinned(log)[2:]
        assert replacement[0] == index
        assert replacement[2] == card
        assert replacement[1] != lost
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
