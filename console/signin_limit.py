"""Brute-force limits on every door that takes a password: /login/, /admin/login/ and the
token endpoint.

Failed sign-ins are counted per client address and per account name in the cache (Redis
when the console runs on Redis, so every web replica sees the same counts). Past a limit, a
sign-in attempt answers 429 with Retry-After before the password is even checked, so a
guesser learns nothing more. The client address is the socket's peer, unless the console is
told how many proxies of its own stand in front of it (TRUSTED_PROXY_COUNT): only then is
X-Forwarded-For read, and only the entry those proxies appended; anything a client writes
there itself is ignored.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse

SIGNIN_PATHS = ("/login/", "/admin/login/", "/api/v1/auth/token/")


def client_address(meta: dict[str, Any]) -> str:
    """The address of whoever opened the connection, seen through our own proxies only."""
    proxies = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0))
    forwarded = [a.strip() for a in str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",")]
    forwarded = [a for a in forwarded if a]
    if proxies > 0 and len(forwarded) >= proxies:
        return forwarded[-proxies]
    return str(meta.get("REMOTE_ADDR", "") or "unknown")


def _keys(address: str, username: str) -> list[tuple[str, int]]:
    keys = [(f"signin:addr:{address}", settings.SIGNIN_MAX_FAILURES_PER_ADDRESS)]
    if username:
        keys.append(
            (f"signin:user:{username.lower()[:150]}", settings.SIGNIN_MAX_FAILURES_PER_ACCOUNT)
        )
    return keys


def _username(request: HttpRequest) -> str:
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body[:4096] or b"{}")
        except (ValueError, RecursionError):  # not JSON, or nested past the decoder
            return ""
        value = body.get("username", "") if isinstance(body, dict) else ""
        return value if isinstance(value, str) else ""
    value = request.POST.get("username", "")
    return value if isinstance(value, str) else ""


def signin_failed(*, address: str, username: str) -> None:
    """Count one failed sign-in against the address and the account, for the window."""
    window = settings.SIGNIN_WINDOW_SECONDS
    for key, _limit in _keys(address, username):
        cache.add(key, 0, timeout=window)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=window)


@receiver(user_login_failed)
def _count_failure(sender: Any, credentials: dict[str, Any], request: Any = None, **_: Any) -> None:
    if request is None:
        return
    meta = getattr(request, "META", {})
    username = credentials.get("username", "")
    signin_failed(
        address=client_address(meta), username=username if isinstance(username, str) else ""
    )


class SigninLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.path in SIGNIN_PATHS:
            address = client_address(request.META)
            for key, limit in _keys(address, _username(request)):
                if (cache.get(key) or 0) >= limit:
                    return self._refused(request)
        return self.get_response(request)

    def _refused(self, request: HttpRequest) -> HttpResponse:
        retry = str(settings.SIGNIN_WINDOW_SECONDS)
        message = "Too many failed sign-ins; try again later."
        if request.path.startswith("/api/"):
            body = {"code": "throttled", "detail": message, "fields": {}}
            response: HttpResponse = JsonResponse(body, status=429)
        else:
            response = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = retry
        return response
