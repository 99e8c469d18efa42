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

from typing import Any
from urllib.parse import urlsplit

from channels.db import database_sync_to_async
from channels.security.websocket import AllowedHostsOriginValidator, WebsocketDenier
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

from console import tokens


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


@database_sync_to_async
def user_for(raw: str) -> Any:
    found = tokens.user_for_token(raw)
    return found[0] if found else AnonymousUser()
