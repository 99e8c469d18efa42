"""ASGI entry point of the predictor service (its own process, one of many replicas)."""

from __future__ import annotations

import os
import threading
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.predictor_settings")

from django.core.asgi import get_asgi_application

django_app = get_asgi_application()


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        from models_registry.serving import reconcile_forever

        stop = threading.Event()
        worker = threading.Thread(target=reconcile_forever, args=(stop,), daemon=True)
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                worker.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                stop.set()
                await send({"type": "lifespan.shutdown.complete"})
                return
    await django_app(scope, receive, send)
