"""Sending to the channel layer from synchronous code (views, Celery tasks): one event loop per
process, in a thread of its own, shared by every send.

Through asgiref's `async_to_sync`, a send from a web request's thread ran on the web's main
loop, so the request waited behind whatever that loop was serving (20 job submissions at once,
the sockets of the watchers); in a worker, which has no loop, each send made a new loop in a new
thread and a new Redis connection for it. Here the sends share one loop and its connection. The
caller still waits until its message is handed to the layer, so an event recorded just before a
process exits (a worker's child after its one task) is not lost with it.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

from channels.layers import get_channel_layer

# A send that takes longer (Redis unreachable) is given up; the event is stored, and a watcher
# reads it again when it reconnects.
SEND_TIMEOUT_SECONDS = 5.0

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def _forget_loop() -> None:
    # A forked child (Celery's pool) has the parent's loop object but not its thread.
    global _lock, _loop
    _lock, _loop = threading.Lock(), None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_loop)


def _running_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="channel-publisher", daemon=True).start()
            _loop = loop
        return _loop


def group_send(group: str, message: dict[str, Any]) -> None:
    """Send a message to a channel-layer group; returns once the layer took it. Raises what the
    layer raised, or TimeoutError after SEND_TIMEOUT_SECONDS."""
    layer = get_channel_layer()
    if layer is None:
        return
    future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), _running_loop())
    try:
        future.result(SEND_TIMEOUT_SECONDS)
    except TimeoutError:
        future.cancel()
        raise
