"""A deployment's contract, written from its version's input schema, classes and task type:
an OpenAPI 3.1 document of its predict call, an example instance, and a curl command.

Plain functions of the recorded signature (no model, no query): the predictor serves the
document from the version it hosts, the web API from the version a deployment names, and
both write the same one.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from typing import Any

# Past this many, a categorical column's known values are listed as examples, not an enum.
MAX_ENUM = 50
# A 1x1 PNG: an image model's example instance (any size is resized to the model's).
EXAMPLE_PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9aw"
    "AAAABJRU5ErkJggg=="
)
_BASE64 = {"type": "string", "contentEncoding": "base64"}


def _example_value(column: dict[str, Any]) -> Any:
    kind = column.get("type")
    if kind == "categorical":
        values = column.get("values") or []
        return values[0] if values else "unknown"
    if kind == "boolean":
        return False
    if kind == "text":
        return "Some text to classify."
    if kind == "image":
        return {"b64": EXAMPLE_PNG}
    if kind == "history":
        row = {c["name"]: 0.0 for c in column.get("columns", [])}
        return [dict(row) for _ in range(int(column.get("lookback") or 1))]
    return 0.0


def example_instance(schema: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One instance the model accepts: each column's first known category, 0, false, a short
    text, a 1x1 PNG, or `lookback` rows of zeros."""
    return {column["name"]: _example_value(column) for column in schema}


def _column_schema(column: dict[str, Any]) -> dict[str, Any]:
    kind = column.get("type")
    if kind == "categorical":
        values = [str(v) for v in column.get("values") or []]
        described = (
            "A category. A value not seen in training (or null) is read as the unknown "
            "category; the answer then carries a warning (`unseen_category`, `missing_value`)."
        )
        if 0 < len(values) <= MAX_ENUM:
            return {"type": ["string", "null"], "enum": [*values, None], "description": described}
        return {
            "type": ["string", "number", "null"],
            "examples": values[:5],
            "description": described,
        }
    if kind == "boolean":
        return {
            "type": ["boolean", "integer", "string", "null"],
            "description": 'true/false (also 0/1, "yes"/"no"); null takes the training mean.',
        }
    if kind == "text":
        return {"type": "string"}
    if kind == "image":
        formats = ", ".join(column.get("formats") or ["PNG", "JPEG", "WEBP"])
        return {
            "description": f"A {formats} file, base64; resized to "
            f"{column.get('height')}x{column.get('width')} (HxW), {column.get('channels')} "
            "channel(s).",
            "oneOf": [
                {**_BASE64, "description": 'base64 (a "data:image/...;base64," prefix is allowed)'},
                {
                    "type": "object",
                    "properties": {"b64": _BASE64},
                    "required": ["b64"],
                    "additionalProperties": False,
                },
            ],
        }
    if kind == "history":
        names = [c["name"] for c in column.get("columns", [])]
        lookback = int(column.get("lookback") or 1)
        return {
            "type": "array",
            "minItems": lookback,
            "description": f"The recent rows, oldest first; the last {lookback} are used.",
            "items": {
                "type": "object",
                "properties": {n: {"type": ["number", "null"]} for n in names},
                "required": names,
            },
        }
    return {"type": ["number", "null"], "description": "null takes the training median."}


def _prediction_schema(
    task_type: str, classes: Sequence[str] | None, schema: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    if task_type == "regression":
        return {"type": "number"}
    if task_type == "forecasting":
        horizon = next((c.get("horizon") for c in schema if c.get("type") == "history"), None)
        answer: dict[str, Any] = {"type": "array", "items": {"type": "number"}}
        if horizon:
            answer.update(minItems=int(horizon), maxItems=int(horizon))
        return answer
    names = [str(c) for c in classes or []]
    probabilities: dict[str, Any] = {"type": "object", "additionalProperties": {"type": "number"}}
    if names:
        probabilities.update(properties={c: {"type": "number"} for c in names}, required=names)
    label: dict[str, Any] = {"type": "string", **({"enum": names} if names else {})}
    if task_type == "multilabel":
        return {
            "type": "object",
            "properties": {
                "labels": {"type": "array", "items": label},
                "probabilities": probabilities,
            },
            "required": ["labels", "probabilities"],
        }
    return {
        "type": "object",
        "properties": {"label": label, "probabilities": probabilities},
        "required": ["label", "probabilities"],
    }


_ERROR = {
    "type": "object",
    "properties": {
        "code": {"type": "string"},
        "detail": {"type": "string"},
        "fields": {"type": "object"},
        "field": {"type": "string", "description": "the input column at fault"},
        "instance": {"type": "integer", "description": "the instance at fault (from 0)"},
    },
    "required": ["detail"],
}
_WARNING = {
    "type": "object",
    "properties": {
        "instance": {"type": "integer"},
        "field": {"type": "string"},
        "code": {"type": "string", "enum": ["unseen_category", "missing_value"]},
        "value": {"description": "the value as sent (unseen_category)"},
    },
    "required": ["instance", "field", "code"],
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def openapi_document(
    *,
    name: str,
    server_url: str,
    model_name: str,
    version: int,
    task_type: str,
    classes: Sequence[str] | None,
    schema: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """An OpenAPI 3.1 document of `POST /v1/deployments/<name>/predict` for this signature."""
    properties = {c["name"]: _column_schema(c) for c in schema}
    instance = {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
    example = {"instances": [example_instance(schema)]}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"Deployment {name}",
            "version": str(version),
            "description": f"Model '{model_name}' version {version} ({task_type}). Every "
            "field is required; a numeric, boolean or categorical one may be null.",
        },
        "servers": [{"url": server_url}],
        "security": [{"token": []}, {"apiKey": []}],
        "paths": {
            f"/v1/deployments/{name}/predict": {
                "post": {
                    "operationId": "predict",
                    "summary": f"Predict with deployment {name}",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/PredictRequest"},
                                "example": example,
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "One prediction per instance, in order.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/PredictResponse"}
                                }
                            },
                        },
                        "400": _error("An instance does not fit the schema (field, instance)."),
                        "401": _error("No credentials, or not valid ones."),
                        "404": _error("No such deployment for these credentials."),
                        "413": _error("The body is too large."),
                        "429": _error("The key's rate limit is reached (Retry-After)."),
                        "503": _error("The deployment is not loaded yet (Retry-After)."),
                    },
                }
            }
        },
        "components": {
            "securitySchemes": {
                "token": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "`Token <user token>`, or `Bearer <token or deployment key>`",
                },
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
            "schemas": {
                "Instance": instance,
                "Prediction": _prediction_schema(task_type, classes, schema),
                "Warning": _WARNING,
                "Error": _ERROR,
                "PredictRequest": {
                    "type": "object",
                    "properties": {
                        "instances": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Instance"},
                            "minItems": 1,
                            "maxItems": 1000,
                        }
                    },
                    "required": ["instances"],
                },
                "PredictResponse": {
                    "type": "object",
                    "properties": {
                        "predictions": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Prediction"},
                        },
                        "model": {"type": "string"},
                        "model_version": {"type": "integer"},
                        "warnings": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Warning"},
                            "description": "Present only when a value was read as unknown.",
                        },
                    },
                    "required": ["predictions", "model", "model_version"],
                },
            },
        },
    }


def curl_command(url: str, schema: Sequence[dict[str, Any]]) -> str:
    """A shell command that predicts one example instance, the token left as `$TOKEN`."""
    body = json.dumps({"instances": [example_instance(schema)]}, separators=(",", ":"))
    return (
        f"curl -sS -X POST {shlex.quote(url)} "
        '-H "Authorization: Token $TOKEN" '
        "-H 'Content-Type: application/json' "
        f"-d {shlex.quote(body)}"
    )
