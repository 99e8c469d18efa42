"""Personal API tokens: make, list, revoke, and resolve a raw token to its user and scopes.

`user_for_token` is the one door the web processes use (the REST API's authentication class,
the websocket consumers), so a token means the same thing everywhere; the predictor holds the
same rows in memory (models_registry.predictor.directory) and applies the same scopes. Every
token is stored as a hash, those that the deprecated `POST /api/v1/auth/token/` hands out too.

The web's same-origin door to the predictor forwards a browser session as a door credential: a
signed, minute-long statement of the user's id, so that no stored secret is made for a session.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core import signing
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.request import Request

from console.models import ApiToken

PREFIX = "aml_"
# What each scope allows, as the names checked by `console.permissions.TokenScope`.
SCOPES: dict[str, frozenset[str]] = {
    ApiToken.Scope.READ: frozenset({"read"}),
    ApiToken.Scope.PREDICT: frozenset({"read", "predict"}),
    ApiToken.Scope.FULL: frozenset({"read", "predict", "write"}),
}
# `last_used_at` is written at most this often per token, not on every request.
LAST_USED_GRANULARITY = timedelta(minutes=1)
# The deprecated sign-in endpoint makes a new token per call (a hashed one cannot be handed out
# twice); a script that signs in on every run would pile them up, so the oldest beyond this
# many are revoked.
SIGNIN_NAME = "sign-in (POST /api/v1/auth/token/)"
SIGNIN_KEPT = 10
DOOR_PREFIX = "door:"
DOOR_SALT = "console.tokens.door"
DOOR_MAX_AGE = 60  # seconds; the door re-signs far more often (models_registry.door)


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    raw: str  # shown to its owner once; only its hash is stored


def token_create(
    *,
    user: Any,
    name: str,
    scope: str = ApiToken.Scope.FULL,
    expires_at: datetime | None = None,
) -> NewToken:
    raw = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=raw[: len(PREFIX) + 6],
        key_hash=hash_key(raw),
        scope=scope,
        expires_at=expires_at,
    )
    return NewToken(token=token, raw=raw)


def token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def token_rotate(*, token: ApiToken) -> NewToken:
    """A new secret for the same name, scope and expiry; the old one stops working at once."""
    with transaction.atomic():
        token_revoke(token=token)
        return token_create(
            user=token.user, name=token.name, scope=token.scope, expires_at=token.expires_at
        )


def token_signin(*, user: Any) -> NewToken:
    """A full-scope token for the deprecated sign-in endpoint, listed and revocable as any
    other; only the newest SIGNIN_KEPT of them stay usable."""
    with transaction.atomic():
        new = token_create(user=user, name=SIGNIN_NAME)
        older = token_list(user=user).filter(name=SIGNIN_NAME).values_list("pk", flat=True)
        stale = list(older[SIGNIN_KEPT:])
        if stale:
            ApiToken.objects.filter(pk__in=stale).update(revoked_at=timezone.now())
        return new


def door_credential(*, user_id: Any) -> str:
    """What the web's door forwards to the predictor for a signed-in browser session."""
    return DOOR_PREFIX + signing.TimestampSigner(salt=DOOR_SALT).sign(str(user_id))


def door_user_id(credential: str) -> int | None:
    """The user id a door credential names; None when it is not one, forged or too old."""
    if not credential.startswith(DOOR_PREFIX):
        return None
    try:
        value = signing.TimestampSigner(salt=DOOR_SALT).unsign(
            credential[len(DOOR_PREFIX) :], max_age=DOOR_MAX_AGE
        )
    except signing.BadSignature:
        return None
    return int(value) if value.isdigit() else None


def token_list(*, user: Any) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True)


@dataclass(frozen=True)
class Resolved:
    user: Any
    scopes: frozenset[str]
    token: ApiToken


def resolve(raw: str) -> Resolved | None:
    """The active user, scopes and token row behind a raw token; None when it is unknown,
    revoked, expired, or its user is inactive."""
    if not raw or len(raw) > 200:
        return None
    # Any string is looked up by its hash: tokens made before personal ones (DRF's, without the
    # prefix) were moved here as hashes by console's migration 0003.
    token = ApiToken.objects.select_related("user").filter(key_hash=hash_key(raw)).first()
    if token is None or not token.is_usable or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_GRANULARITY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return Resolved(user=token.user, scopes=SCOPES[token.scope], token=token)


def user_for_token(raw: str) -> tuple[Any, frozenset[str]] | None:
    """(user, scopes) for a raw token, or None. Scopes: "read", "predict", "write"."""
    found = resolve(raw)
    return (found.user, found.scopes) if found else None


def scopes_of(auth: object) -> frozenset[str] | None:
    """The scopes a request's `request.auth` grants; None for a browser session (no limit)."""
    if isinstance(auth, ApiToken):
        return SCOPES[auth.scope]
    return None


class ApiTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>` (or `Bearer <key>`) with a personal token."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "").split()
        if not header or header[0].lower() not in ("token", "bearer"):
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid token header: send 'Authorization: Token <key>'."
            )
        found = resolve(header[1])
        if found is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        return found.user, found.token
