"""Drives the predictor's ASGI app in-process, as a test client.

The app's state is refreshed on the test's own thread (so it sees the test's transaction);
requests then go through the real app, batching thread and all, over httpx's ASGI transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any, cast

import httpx
import uvicorn

from models_registry.predictor.app import application, predictor
from models_registry.predictor.directory import read_snapshot
from tests.factories import make_token
from tests.stack import free_port


class PredictorClient:
    def __init__(self, credential: str | None = None, scheme: str = "Token") -> None:
        self.headers = {"Authorization": f"{scheme} {credential}"} if credential else {}

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=cast(Any, application))
            async with httpx.AsyncClient(transport=transport, base_url="http://predictor") as c:
                headers = {**self.headers, **kwargs.pop("headers", {})}
                return await c.request(method, url, headers=headers, **kwargs)

        return asyncio.run(go())

    def post(self, url: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        if body is not None and not isinstance(body, (str, bytes)):
            kwargs["json"] = body
        elif body is not None:
            kwargs["content"] = body
            kwargs.setdefault("headers", {})["Content-Type"] = "application/json"
        return self.request("POST", url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post_together(self, url: str, bodies: list[Any]) -> list[httpx.Response]:
        """Several requests at once, so that the predictor batches them."""

        async def go() -> list[httpx.Response]:
            transport = httpx.ASGITransport(app=cast(Any, application))
            async with httpx.AsyncClient(transport=transport, base_url="http://predictor") as c:
                return list(
                    await asyncio.gather(
                        *(c.post(url, json=body, headers=self.headers) for body in bodies)
                    )
                )

        return asyncio.run(go())


def client_for(user: Any) -> PredictorClient:
    if user is None:
        return PredictorClient()
    token = make_token(user)
    # What the NOTIFY on the token table makes the watcher do.
    predictor.snapshot = read_snapshot()
    return PredictorClient(token)


def refresh() -> None:
    """What the watcher thread does on a NOTIFY: re-read the directory, load, warm, switch."""
    predictor.refresh()


@contextlib.contextmanager
def live_predictor() -> Iterator[str]:
    """The predictor's app under a real uvicorn, in a thread of this process (its state is
    refreshed by the test, as above), for clients that need a socket."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            application, host="127.0.0.1", port=port, lifespan="off", log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
