"""The load benchmark's API side (bench/load.py): a manage.py shell on the stack, a timer of
every API call, uploads, and a poller that calls the API as watching users do."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from bench.load_ws import percentile
from tests.stack import Stack

ROOT = Path(__file__).resolve().parent.parent


def manage(stack: Stack, code: str, timeout: float = 600) -> str:
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return out.stdout


class Timer:
    """Latencies and status codes of every timed API call, thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ms: list[float] = []
        self.by_call: dict[str, list[float]] = {}  # "GET /api/v1/jobs/" -> latencies
        self.codes: Counter[int] = Counter()
        self.failure_kinds: Counter[str] = Counter()  # "POST /api/v1/jobs/ ReadTimeout" -> n

    def call(
        self, client: httpx.Client, method: str, path: str, **kw: Any
    ) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            answer = client.request(method, path, **kw)
        except httpx.HTTPError as exc:
            with self.lock:
                self.failure_kinds[f"{method} {path.split('?')[0]} {type(exc).__name__}"] += 1
            return None
        ms = (time.perf_counter() - started) * 1000
        with self.lock:
            self.ms.append(ms)
            self.by_call.setdefault(f"{method} {path.split('?')[0]}", []).append(ms)
            self.codes[answer.status_code] += 1
        return answer

    def breakdown(self) -> dict[str, dict[str, float | None]]:
        """Each kind of call's count, p50 and p99: which one the overall p99 comes from."""
        return {
            call: {"calls": len(ms), "p50_ms": percentile(ms, 50), "p99_ms": percentile(ms, 99)}
            for call, ms in sorted(self.by_call.items())
        }

    @property
    def failures(self) -> int:
        """Calls that got no answer at all."""
        return sum(self.failure_kinds.values())

    @property
    def server_errors(self) -> int:
        return sum(n for code, n in self.codes.items() if code >= 500)


def results(answer: Any) -> list[dict[str, Any]]:
    body = answer.json()
    return list(body["results"] if isinstance(body, dict) else body)


def upload(
    client: httpx.Client, name: str, content: bytes, timer: Timer | None = None
) -> httpx.Response | None:
    files = {"file": (name, content, "application/octet-stream")}
    if timer is None:
        return client.post("/api/v1/datasets/", files=files)
    return timer.call(client, "POST", "/api/v1/datasets/", files=files)


class Poller(threading.Thread):
    """Times the web API as the users see it, about ten calls a second."""

    def __init__(self, clients: list[httpx.Client], timer: Timer) -> None:
        super().__init__(daemon=True)
        self.clients, self.timer = clients, timer
        self.stop = threading.Event()

    def run(self) -> None:
        rng = random.Random(0)
        while not self.stop.is_set():
            client = rng.choice(self.clients)
            path = rng.choice(["/api/v1/jobs/?limit=10", "/api/v1/datasets/?limit=10"])
            self.timer.call(client, "GET", path)
            self.stop.wait(0.1)
