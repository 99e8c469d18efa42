"""One error format for every API answer with a 4xx or 5xx status:

    {"code": "invalid", "detail": "target: This field is required.",
     "fields": {"target": ["This field is required."]}}

`code` is machine-readable (DRF's codes: invalid, not_found, not_authenticated,
permission_denied, throttled, parse_error, conflict, ...), `detail` a readable sentence,
`fields` the messages per request field (empty when the error is not about one field).
The exception handler shapes raised errors; `ErrorShapeMiddleware` shapes the error answers
views build themselves (a 409 with a reason, say), so no view can drift from the format.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler

STATUS_CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    410: "gone",
    412: "precondition_failed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "throttled",
    502: "bad_gateway",
    503: "unavailable",
    507: "insufficient_storage",
}
# The answer to a write that found the disk (or the user's quota on it) full: the request's
# own bytes are gone (nothing half-written is kept), and trying again later may work.
NO_SPACE = (
    "No space left on the storage volume: nothing of this request was kept. "
    "Try again once space has been freed."
)


def is_out_of_space(exc: BaseException) -> bool:
    """A write failed because the volume (or a quota on it) is full."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


# Field-error keys whose messages read well without the field's name in front.
BARE_FIELDS = frozenset({"non_field_errors", "file", "size"})


def _strings(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [s for item in value for s in _strings(item)]
    if isinstance(value, dict):
        return [f"{k}: {s}" for k, v in value.items() for s in _strings(v)]
    return [str(value)]


def _first_code(codes: Any, fallback: str) -> str:
    if isinstance(codes, str):
        return codes
    if isinstance(codes, list | tuple) and codes:
        return _first_code(codes[0], fallback)
    if isinstance(codes, dict) and codes:
        return _first_code(next(iter(codes.values())), fallback)
    return fallback


def is_shaped(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("code"), str) and "detail" in data


def shape(status_code: int, data: Any, code: str | None = None) -> dict[str, Any]:
    """The error body for `data` as DRF or a view would have sent it."""
    if is_shaped(data):
        return dict(data)
    code = code or STATUS_CODES.get(status_code, "error" if status_code >= 500 else "invalid")
    extra: dict[str, Any] = {}
    fields: dict[str, list[str]] = {}
    if isinstance(data, dict):
        detail = data.get("detail")
        for key, value in data.items():
            if key == "detail":
                continue
            if isinstance(detail, str) or not isinstance(value, list | dict):
                # Beside a sentence, other keys are context, kept as they are (the predictor's
                # "field", a 409's "existing" deployment); otherwise they are field errors.
                extra[key] = value
            else:
                fields[key] = _strings(value)
        if not isinstance(detail, str):
            detail = "; ".join(
                " ".join(msgs) if key in BARE_FIELDS else f"{key}: {' '.join(msgs)}"
                for key, msgs in fields.items()
            )
    elif isinstance(data, list):
        detail = "; ".join(_strings(data))
        fields = {"non_field_errors": _strings(data)} if data else {}
    else:
        detail = str(data) if data is not None else ""
    return {
        **extra,
        "code": code,
        "detail": detail or f"Request failed (HTTP {status_code}).",
        "fields": fields,
    }


# Django's 404 names the model class ("No TrainingJob matches the given query."): say it in
# words a person reads, and the same whether the object is missing or someone else's.
_NO_MATCH = re.compile(r"^No (\w+) matches the given query\.$")


def _readable_not_found(detail: Any) -> Any:
    found = _NO_MATCH.match(str(detail))
    if not found:
        return detail
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", found.group(1)).lower()
    return f"No {words} with that id that you can see."


def handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler (status, headers such as Retry-After), then the one body shape."""
    if is_out_of_space(exc):
        # Not a bug to report as a 500: the operator must free space; the client may retry.
        return Response(shape(507, {"detail": NO_SPACE}), status=507)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if response.status_code == 404 and isinstance(response.data, dict):
        response.data["detail"] = _readable_not_found(response.data.get("detail"))
    code: str | None = None
    if isinstance(exc, exceptions.ValidationError):
        code = "invalid"
    elif isinstance(exc, exceptions.APIException):
        code = _first_code(exc.get_codes(), exc.default_code)
        if code == "error":
            code = None
    response.data = shape(response.status_code, response.data, code)
    return response


class ErrorShapeMiddleware:
    """Shapes the error answers that API views return (rather than raise)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and isinstance(response, Response)
            and response.data is not None
            and not is_shaped(response.data)
        ):
            response.data = shape(response.status_code, response.data)
            response.content = JSONRenderer().render(response.data)
            response["Content-Type"] = "application/json"
        return response
