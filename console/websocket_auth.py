"""Who may open a websocket: browsers by their session (Origin checked), scripts by token.

Browsers always send `Origin` on a websocket handshake, and a page on another site could
otherwise ride on the session cookie, so a handshake with an Origin must come from an allowed
host. A handshake without one is a script (websocat, a Python client): its cookies are dropped,
so it can only sign in with a token (`Authorization: Token ...`, or a first message).

The Origin's host must be an allowed host and its port the one the handshake came to (or the
origin is listed in CSRF_TRUSTED_ORIGINS, as for Django's own CSRF check): another service on
the same machine, at `http://localhost:9999`, is another origin and may not ride on the cookie.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.security.websocket import AllowedHostsOriginValidator, WebsocketDenier
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

from console import tokens

# Close codes every watching socket uses: 4400 + the HTTP status the REST API would answer.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_AMBIGUOUS = 4409


class BrowserOriginValidator:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.browser = AllowedHostsOriginValidator(app)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        headers = scope.get("headers", [])
        origin = next((v for name, v in headers if name == b"origin"), None)
        if origin is not None:
            host = next((v for name, v in headers if name == b"host"), b"")
            if not same_origin(origin.decode("latin-1"), host.decode("latin-1")):
                return await WebsocketDenier()(scope, receive, send)
            return await self.browser(scope, receive, send)
        scope = {**scope, "headers": [(k, v) for k, v in headers if k != b"cookie"]}
        return await self.app(scope, receive, send)


_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _host_port(netloc: str, scheme: str) -> tuple[str, int | None]:
    try:
        parts = urlsplit(f"//{netloc}")
        return (parts.hostname or "", parts.port or _DEFAULT_PORTS.get(scheme))
    except ValueError:  # a port that is not a number
        return ("", None)


def same_origin(origin: str, host: str) -> bool:
    """The page's origin is the site the handshake reached (host and port), or a trusted one."""
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    scheme = urlsplit(origin).scheme.lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return False
    mine = _host_port(urlsplit(origin).netloc, scheme)
    return mine[0] != "" and mine == _host_port(host, scheme)


def header_token(scope: dict[str, Any]) -> str | None:
    """The key in an `Authorization: Token <key>` (or Bearer) header, if any."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            parts = value.decode("latin-1").split()
            if len(parts) == 2 and parts[0].lower() in ("token", "bearer"):
                return parts[1]
            return ""  # a header that is there but unreadable: a failed sign-in
    return None


def query_token(scope: dict[str, Any]) -> str | None:
    """`?token=<key>`: kept for old scripts; the key is redacted from the logs."""
    for part in scope.get("query_string", b"").decode("latin-1").split("&"):
        name, _, value = part.partition("=")
        if name == "token":
            return value
    return None


def query_param(scope: dict[str, Any], name: str) -> str | None:
    """One query parameter of the handshake (`?owner=...`), decoded; None when absent."""
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(name)
    return values[0] if values else None


@database_sync_to_async
def user_for(raw: str) -> Any:
    found = tokens.user_for_token(raw)
    return found[0] if found else AnonymousUser()


class WatchingConsumer(AsyncJsonWebsocketConsumer):
    """A socket that only listens, once signed in: by session (a browser), or by token: an
    `Authorization: Token <key>` header, `?token=<key>`, or, when neither is sent, a first
    message `{"token": "<key>"}`. Subclasses say in `start` what a signed-in user watches."""

    async def connect(self) -> None:
        self.waiting_for_token: asyncio.Task[None] | None = None
        user = self.scope.get("user") or AnonymousUser()
        await self.accept()
        if not user.is_authenticated:
            raw = header_token(self.scope)
            if raw is None:
                raw = query_token(self.scope)
            if raw is None:
                self.waiting_for_token = asyncio.create_task(self._close_unless_signed_in())
                return
            user = await user_for(raw)
        await self._signed_in(user)

    async def start(self, user: Any) -> None:
        raise NotImplementedError

    async def _close_unless_signed_in(self) -> None:
        await asyncio.sleep(settings.WEBSOCKET_AUTH_TIMEOUT_SECONDS)
        await self.close(code=CLOSE_UNAUTHENTICATED)

    async def _signed_in(self, user: Any) -> None:
        if not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        await self.start(user)

    async def disconnect(self, code: int) -> None:
        if self.waiting_for_token is not None:
            self.waiting_for_token.cancel()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """Watchers only listen, after the first message when it carries their token."""
        waiting, self.waiting_for_token = self.waiting_for_token, None
        if waiting is None:
            return
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
        raw = content.get("token") if isinstance(content, dict) else None
        await self._signed_in(await user_for(raw) if isinstance(raw, str) else AnonymousUser())

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        try:
            await super().receive(text_data=text_data, bytes_data=bytes_data, **kwargs)
        except ValueError:  # not JSON: as a first message, no token
            await self.receive_json(None)
