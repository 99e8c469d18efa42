"""`Idempotency-Key` on creates: a retried request returns the first answer, not a duplicate.

A script that lost the answer to a POST (a dropped connection, a timeout) sends it again with
the same key; the first answer is replayed with `Idempotent-Replayed: true`. The same key on a
different request (another path or JSON body) is a 422; a retry that arrives while the first
is still being answered is a 409 with `Retry-After`. Server errors (5xx) are not remembered,
so they can be retried. Keys are per user and remembered for `IDEMPOTENCY_TTL_SECONDS`.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from console.models import IdempotencyRecord

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255

View = TypeVar("View", bound=Callable[..., Response])


def _fingerprint(request: Request) -> str:
    def plain(value: Any) -> Any:
        if isinstance(value, UploadedFile):
            # The file's bytes are not read twice; its name and size tell retries apart.
            return {"file": value.name, "size": value.size}
        return value

    data = request.data
    items = (
        {k: [plain(v) for v in data.getlist(k)] for k in data} if hasattr(data, "getlist") else data
    )
    body = json.dumps(items, sort_keys=True, default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _error(code: int, kind: str, detail: str, **headers: str) -> Response:
    return Response({"code": kind, "detail": detail, "fields": {}}, status=code, headers=headers)


def idempotent(view: View) -> View:
    """Wraps a DRF view method that creates something."""

    @functools.wraps(view)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER, "")
        if not key:
            return view(self, request, *args, **kwargs)
        if len(key) > MAX_KEY_LENGTH or not key.isprintable():
            return _error(
                400, "invalid", f"{HEADER} must be at most {MAX_KEY_LENGTH} printable characters."
            )
        fingerprint = _fingerprint(request)
        user: Any = request.user  # signed in: the view's permissions ran first
        ttl = timedelta(seconds=settings.IDEMPOTENCY_TTL_SECONDS)
        IdempotencyRecord.objects.filter(user=user, created_at__lt=timezone.now() - ttl).delete()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    user=user, key=key, fingerprint=fingerprint
                )
        except IntegrityError:
            first = IdempotencyRecord.objects.get(user=user, key=key)
            if first.fingerprint != fingerprint:
                return _error(
                    422,
                    "idempotency_key_reused",
                    f"This {HEADER} was used for a different request; use a new key.",
                )
            if first.status_code is None:
                return _error(
                    409,
                    "idempotency_in_progress",
                    "The first request with this key is still being answered; retry shortly.",
                    **{"Retry-After": "1"},
                )
            headers = {"Idempotent-Replayed": "true"}
            if first.location:
                headers["Location"] = first.location
            return Response(first.body, status=first.status_code, headers=headers)
        try:
            response = view(self, request, *args, **kwargs)
        except Exception:
            record.delete()
            raise
        if response.status_code >= status.HTTP_500_INTERNAL_SERVER_ERROR:
            record.delete()
            return response
        record.status_code = response.status_code
        record.body = response.data
        record.location = response.get("Location", "")[:500]
        record.save(update_fields=["status_code", "body", "location"])
        return response

    return wrapper  # type: ignore[return-value]
