"""Who may open a websocket: browsers by their session (Origin checked), scripts by token.

Browsers always send `Origin` on a websocket handshake, and a page on another site could
otherwise ride on the session cookie, so a handshake with an Origin must come from an allowed
host. A handshake without one is a script (websocat, a Python client): its cookies are dropped,
so it can only sign in with a token (`Authorization: Token ...`, or a first message).
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.security.websocket import AllowedHostsOriginValidator
from django.contrib.auth.models import AnonymousUser

from console import tokens


class BrowserOriginValidator:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.browser = AllowedHostsOriginValidator(app)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        headers = scope.get("headers", [])
        if any(name == b"origin" for name, _ in headers):
            return await self.browser(scope, receive, send)
        scope = {**scope, "headers": [(k, v) for k, v in headers if k != b"cookie"]}
        return await self.app(scope, receive, send)


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
