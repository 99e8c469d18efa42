"""Token scopes: what a request authenticated by a personal API token may do."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from console.tokens import scopes_of

# View actions that only predict (they change nothing the user owns).
PREDICT_ACTIONS = frozenset({"predict"})


class TokenScope(BasePermission):
    """read: safe methods only; predict: also predictions; full (and sessions): everything."""

    message = "This token's scope does not allow this request."

    def has_permission(self, request: Request, view: Any) -> bool:
        scopes = scopes_of(request.auth)
        if scopes is None or request.method in SAFE_METHODS:
            return True
        if "write" in scopes:
            return True
        return "predict" in scopes and getattr(view, "action", None) in PREDICT_ACTIONS
