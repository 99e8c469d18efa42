"""Request rates: per personal token when one is used, else per user, else per address.

Rates come from settings (`API_RATE_USER`, `API_RATE_ANON`), so an operator can tune them
without code; a throttled request gets a 429 with `Retry-After` (DRF's `Throttled`)."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from console.models import ApiToken


class UserOrTokenRateThrottle(SimpleRateThrottle):
    """Each personal token has its own allowance, so one runaway script does not lock its
    owner out of the UI; sessions and the legacy token share the user's."""

    scope = "user"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not request.user or not request.user.is_authenticated:
            return None  # AnonRateThrottle's business
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.pk}"
        else:
            ident = f"user-{request.user.pk}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AnonRateThrottle(SimpleRateThrottle):
    scope = "anon"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if request.user and request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
