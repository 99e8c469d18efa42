"""The walking skeleton's path, driven through the public REST API and the websocket."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import websockets

from automl_cli.watch import frame_events
from tests.stack import Stack


def upload(client: httpx.Client, content: bytes, name: str = "cancer.csv") -> dict[str, Any]:
    """Upload a file and wait for the worker to profile it."""
    answer = client.post("/api/v1/datasets/", files={"file": (name, content, "text/csv")})
    assert answer.status_code == 201, answer.text
    return wait_dataset(client, answer.json()["id"])


def wait_dataset(client: httpx.Client, dataset_id: int, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dataset = client.get(f"/api/v1/datasets/{dataset_id}/").json()
        if dataset["status"] in ("READY", "FAILED"):
            return dict(dataset)
        time.sleep(0.2)
    raise AssertionError(f"dataset {dataset_id} still {dataset['status']} after {timeout}s")


def create_job(client: httpx.Client, dataset_id: int, **extra: Any) -> dict[str, Any]:
    body = {"dataset": dataset_id, "target": "diagnosis", "max_trials": 2, "max_epochs": 3}
    answer = client.post("/api/v1/jobs/", json={**body, **extra})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def _watch(url: str, origin: str, timeout: float) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    async with websockets.connect(url, origin=origin) as socket:  # type: ignore[arg-type]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            raw = await asyncio.wait_for(socket.recv(), timeout=deadline - time.monotonic())
            for event in frame_events(raw):
                events.append(event)
                if event["kind"] == "job_finished":
                    return events
    raise AssertionError(f"no job_finished within {timeout}s: {events[-3:]}")


def watch_job(stack: Stack, job_id: int, user: str, timeout: float = 300) -> list[dict[str, Any]]:
    url = f"{stack.ws_url}/ws/jobs/{job_id}/?token={stack.tokens[user]}"
    return asyncio.run(_watch(url, stack.url, timeout))


async def _close_code(url: str, origin: str) -> int | None:
    async with websockets.connect(url, origin=origin) as socket:  # type: ignore[arg-type]
        try:
            await asyncio.wait_for(socket.recv(), timeout=10)
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
    return None


def ws_close_code(stack: Stack, job_id: int, token: str | None) -> int | None:
    query = f"?token={token}" if token else ""
    return asyncio.run(_close_code(f"{stack.ws_url}/ws/jobs/{job_id}/{query}", stack.url))


def wait_ready(client: httpx.Client, name: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        deployment = client.get(f"/api/v1/deployments/{name}/").json()
        if deployment["status"] not in ("PENDING", "LOADING"):
            return dict(deployment)
        time.sleep(0.3)
    raise AssertionError(f"deployment {name} still PENDING or LOADING after {timeout}s")


def artifact_path(stack: Stack, sha256: str) -> Path:
    import hashlib

    for path in (stack.data_dir / "media" / "models").glob("*.keras"):
        if hashlib.sha256(path.read_bytes()).hexdigest() == sha256:
            return path
    raise AssertionError("the registered model's file is not in storage")


def wait_mid_search(client: httpx.Client, job_id: int, timeout: float = 300) -> dict[int, str]:
    """Waits for a finished trial with the next one under way; the finished ones' finish times
    by trial number."""
    deadline = time.monotonic() + timeout
    while True:
        trials = client.get(f"/api/v1/jobs/{job_id}/").json()["trials"]
        done = {t["number"] for t in trials if t["status"] == "COMPLETED"}
        if done and any(t["status"] == "RUNNING" for t in trials):
            return {t["number"]: t["finished_at"] for t in trials if t["number"] in done}
        assert time.monotonic() < deadline, f"no trial finished with another running: {trials}"
        time.sleep(0.1)


def assert_resumed(
    events: list[dict[str, Any]], final: dict[str, Any], before: dict[int, str], trials: int
) -> None:
    """The second attempt resumed the saved search: the trials finished before were not run
    again (one start each, the same finish time), and the search still ran all its trials."""
    resumed = [e["payload"] for e in events if e["kind"] == "search_resumed"]
    assert resumed, "the second attempt did not resume the saved search"
    assert resumed[0]["attempt"] == 2
    assert resumed[0]["trials_done"] >= len(before)
    starts = [e["payload"]["trial"] for e in events if e["kind"] == "trial_started"]
    for number in before:
        assert starts.count(number) == 1, starts
    after = {t["number"]: t for t in final["trials"]}
    assert sorted(after) == list(range(1, trials + 1))
    for number, finished_at in before.items():
        assert after[number]["finished_at"] == finished_at
