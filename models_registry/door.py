"""The web process's same-origin door to the predictor, for the browser: an ASGI middleware.

`POST /api/v1/deployments/<name>/predict/` is forwarded to the predictor over kept-alive
connections, without Django's request cycle: a token in `Authorization` goes through as it is
(the predictor checks it and the deployment's owner); a session is checked here (its user,
then CSRF, as DRF's SessionAuthentication does) and forwarded as a door credential (signed,
short-lived: console.tokens), so no stored token is made for it. A session's user is
remembered for SESSION_CACHE_SECONDS, so a sign-out takes up to that long to close the door.
Anything else goes on to Django, where the DRF action of the same URL answers (the test
client, which has no ASGI layer, reaches that one).
"""

from __future__ import annotations

import io
import re
import time
from typing import Any

import orjson
from asgiref.sync import sync_to_async
from django.conf import settings

from console import tokens
from console.errors import shape
from console.http_protocol import QUIET
from models_registry.upstream import Upstream

PATH = re.compile(r"^/api/v1/deployments/([-a-zA-Z0-9_]+)/predict/?$")
SESSION_CACHE_SECONDS = 5.0
FORWARDED = (
    b"content-type",
    b"retry-after",
    b"server-timing",
    b"www-authenticate",
    b"x-model-version",
    b"x-model-version-id",
)


def _session_credential(session_key: str) -> str | None:
    """A door credential for the session's user (console.tokens), the user checked as Django's
    auth does (hash and all); None when the session names no active user."""
    from importlib import import_module

    from django.contrib.auth import get_user
    from django.http import HttpRequest

    request = HttpRequest()
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user = get_user(request)
    if not user.is_authenticated or not user.is_active:
        return None
    return tokens.door_credential(user_id=user.pk)


def _csrf_refusal(scope: dict[str, Any]) -> str | None:
    """Django's own CSRF check of this request (no database), as DRF runs it for sessions."""
    from django.core.handlers.asgi import ASGIRequest
    from django.middleware.csrf import CsrfViewMiddleware

    request = ASGIRequest({**scope, "method": "POST"}, io.BytesIO())

    def nothing(request: Any) -> Any:
        return None

    check = CsrfViewMiddleware(nothing)
    check.process_request(request)
    refused = check.process_view(request, nothing, (), {})
    return None if refused is None else "CSRF Failed: the CSRF token is missing or wrong."


class PredictDoor:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.upstream = Upstream(settings.PREDICTOR_URL)
        self._sessions: dict[str, tuple[str | None, float]] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            found = PATH.match(scope["path"])
            if found:
                await self._forward(scope, receive, send, found.group(1))
                return
        await self.app(scope, receive, send)

    async def _authorization(self, scope: dict[str, Any]) -> bytes | str:
        """The Authorization header to forward, or why the request is refused."""
        cookie = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                return bytes(value)
            if name == b"cookie":
                cookie = value
        session_key = ""
        for part in cookie.decode("latin-1").split(";"):
            key, _, value = part.strip().partition("=")
            if key == settings.SESSION_COOKIE_NAME:
                session_key = value
        if not session_key:
            return "Authentication credentials were not provided."
        credential, until = self._sessions.get(session_key, (None, 0.0))
        if until < time.monotonic():
            credential = await sync_to_async(_session_credential)(session_key)
            self._sessions[session_key] = (credential, time.monotonic() + SESSION_CACHE_SECONDS)
            if len(self._sessions) > 10_000:
                self._sessions.clear()
        if credential is None:
            return "Authentication credentials were not provided."
        refused = _csrf_refusal(scope)
        if refused:
            return refused
        return b"Token " + credential.encode()

    async def _forward(self, scope: dict[str, Any], receive: Any, send: Any, name: str) -> None:
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > (settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2_621_440):
                await _answer(send, 413, {"detail": "The body is too large."}, [])
                return
        authorization = await self._authorization(scope)
        if isinstance(authorization, str):
            code = 403 if authorization.startswith("CSRF") else 401
            await _answer(send, code, {"detail": authorization}, [])
            return
        payload = b"".join(chunks)
        try:
            status, headers, body = await self.upstream.post(
                f"/v1/deployments/{name}/predict",
                [(b"authorization", authorization), (b"content-type", b"application/json")],
                payload,
            )
        except (OSError, ValueError) as exc:
            detail = f"The predictor service is unreachable: {exc}"
            await _answer(send, 502, {"detail": detail}, [])
            return
        if status == 401:
            # A credential the predictor does not hold (an API token of another kind, with
            # its own scopes): Django's view of the same URL authenticates it and forwards.
            await self.app(scope, _replay(payload, receive), send)
            return
        if status >= 400:
            # The API's one error shape (console.errors), the predictor's field and row kept.
            body = orjson.dumps(shape(status, orjson.loads(body)))
        elif QUIET in scope.get("extensions", {}):
            # An answered prediction leaves no access log line, as on the predictor behind
            # the door (the deployment's traffic counts it); a refused one is still logged.
            scope["extensions"][QUIET]()
        kept = [(k, v) for k, v in headers if k in FORWARDED]
        await send({"type": "http.response.start", "status": status,
                    "headers": [*kept, (b"content-length", str(len(body)).encode())]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})


def _replay(body: bytes, client: Any) -> Any:
    """A `receive` that hands the already-read body to the next app, then waits on the
    client's own: Django listens for a disconnect while its view runs, and an immediate one
    would abort the view (a 500 with no response)."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return dict(await client())
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _answer(send: Any, status: int, payload: dict[str, Any], headers: list[Any]) -> None:
    body = orjson.dumps(shape(status, payload))
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        *headers]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})
