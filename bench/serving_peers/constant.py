"""The ceiling: an ASGI app that reads the body and answers a constant prediction, under the
same uvicorn options as the predictor."""

from __future__ import annotations

from typing import Any

BODY = b'{"predictions":[{"label":"yes","probabilities":{"no":0.25,"yes":0.75}}]}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
