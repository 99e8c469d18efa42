"""OpenAPI schema additions: the shared error body, documented on every operation."""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "description": "The body of every 4xx/5xx answer (docs/api.md, Errors).",
    "properties": {
        "code": {
            "type": "string",
            "description": "Machine-readable: invalid, not_authenticated, permission_denied, "
            "not_found, conflict, throttled, too_large, ...",
        },
        "detail": {"type": "string", "description": "A readable sentence."},
        "fields": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "description": "Messages per request field; empty when not about a field.",
        },
    },
    "required": ["code", "detail", "fields"],
    "additionalProperties": True,
    "example": {
        "code": "invalid",
        "detail": "target: This field is required.",
        "fields": {"target": ["This field is required."]},
    },
}

_REASONS = {
    "400": "The request is invalid; `fields` says where.",
    "401": "No valid credentials (a token or a session).",
    "403": "Not allowed (a token's scope, or CSRF for a session).",
    "404": "No such object among yours.",
    "429": "Too many requests; wait `Retry-After` seconds.",
}


# The database's integer column ranges, which DRF copies into model serializers' validators:
# they differ between PostgreSQL (32-bit) and SQLite (64-bit), so the schema would depend on
# the database it was generated with. They are storage limits, not API rules: left out.
_STORAGE_BOUNDS = {2**31 - 1, -(2**31), 2**63 - 1, -(2**63)}


def _drop_storage_bounds(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "integer":
            dropped = False
            for bound in ("maximum", "minimum"):
                if node.get(bound) in _STORAGE_BOUNDS:
                    del node[bound]
                    dropped = True
            if dropped and node.get("format") == "int64":
                del node["format"]
        for value in node.values():
            _drop_storage_bounds(value)
    elif isinstance(node, list):
        for value in node:
            _drop_storage_bounds(value)


def add_error_responses(result: dict[str, Any], **_: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook."""
    _drop_storage_bounds(result.get("components", {}))
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for code, reason in _REASONS.items():
                responses.setdefault(code, {"description": reason, "content": ref})
            responses.setdefault("default", {"description": "Another error.", "content": ref})
    return result
