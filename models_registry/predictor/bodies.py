"""Request bodies to rows, and predictions to the Open Inference Protocol's tensors.

v1 (`/v1/deployments/<name>/predict`, TensorFlow Serving's shapes):
`{"instances": [{column: value}, ...]}` (rows) or `{"inputs": {column: [values]}}` (columns).
v2 (Open Inference Protocol): one named tensor per column, JSON or Triton's binary extension.
Every refusal is a `BodyError`: a 400 that names the field and row when there is one.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import orjson

MAX_ROWS = 1000


class BodyError(ValueError):
    def __init__(
        self, message: str, *, field: str | None = None, instance: int | None = None
    ) -> None:
        super().__init__(message)
        self.field = field
        self.instance = instance


def parse_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BodyError(f"The body is not valid JSON: {exc}") from None


def _check_rows(rows: list[Any]) -> list[Any]:
    if len(rows) > MAX_ROWS:
        raise BodyError(f"At most {MAX_ROWS} instances per request.")
    return rows


def columns_to_rows(columns: Any) -> list[dict[str, Any]]:
    """`{column: [values]}` (all of one length) to `[{column: value}, ...]`."""
    if not isinstance(columns, Mapping) or not columns:
        raise BodyError('"inputs" must be {"column": [value, ...], ...} or a list of rows.')
    length: int | None = None
    first = ""
    for name, values in columns.items():
        if not isinstance(values, list):
            raise BodyError(f"Column '{name}' must be a list of values.", field=str(name))
        if length is None:
            length, first = len(values), name
        elif len(values) != length:
            raise BodyError(
                f"Column '{name}' has {len(values)} values; '{first}' has {length}.",
                field=str(name),
            )
    if not length:
        raise BodyError('"inputs" holds no rows.')
    if length > MAX_ROWS:
        raise BodyError(f"At most {MAX_ROWS} instances per request.")
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def v1_rows(body: Any) -> list[Any]:
    if isinstance(body, dict):
        instances = body.get("instances")
        if isinstance(instances, list) and instances:
            return _check_rows(instances)
        inputs = body.get("inputs")
        if isinstance(inputs, list) and inputs:
            return _check_rows(inputs)
        if inputs is not None:
            return columns_to_rows(inputs)
    raise BodyError(
        'The body must be {"instances": [{"column": value, ...}, ...]} '
        'or {"inputs": {"column": [value, ...], ...}}.'
    )


# --- Open Inference Protocol v2 -----------------------------------------------------------

_NUMPY = {
    "BOOL": "?",
    "UINT8": "<u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "INT8": "<i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
}


def binary_columns(schema: list[dict[str, Any]]) -> frozenset[str]:
    """The inputs whose binary BYTES elements are files (images), kept as bytes."""
    return frozenset(c["name"] for c in schema if c.get("type") == "image")


def _bytes_elements(raw: bytes, name: str, binary: bool = False) -> list[Any]:
    """Triton's binary BYTES tensor: each element a 4-byte little-endian length, then bytes:
    raw bytes for an image input (the file itself, no base64), else UTF-8 text."""
    out: list[Any] = []
    at = 0
    while at < len(raw):
        if at + 4 > len(raw):
            raise BodyError(f"Input '{name}' has a truncated BYTES element.", field=name)
        (size,) = struct.unpack_from("<I", raw, at)
        at += 4
        chunk = raw[at : at + size]
        if len(chunk) != size:
            raise BodyError(f"Input '{name}' has a truncated BYTES element.", field=name)
        at += size
        if binary:
            out.append(chunk)
            continue
        try:
            out.append(chunk.decode())
        except UnicodeDecodeError:
            raise BodyError(f"Input '{name}' holds bytes that are not UTF-8.", field=name) from None
    return out


def _flatten(data: Any) -> list[Any]:
    if isinstance(data, list) and data and isinstance(data[0], list):
        return [v for part in data for v in _flatten(part)]
    return data if isinstance(data, list) else [data]


def v2_request(
    raw: bytes, header_length: int | None, binary_inputs: frozenset[str] = frozenset()
) -> tuple[list[Any], list[str] | None, Any]:
    """Rows, requested output names (None: all) and the request id of a v2 infer body.

    A BYTES element for an image input is the file's base64 text or `{"b64": ...}` in JSON, or
    the file's raw bytes in the binary extension (`binary_inputs` names those inputs)."""
    if header_length is not None:
        if not 0 < header_length <= len(raw):
            raise BodyError("Inference-Header-Content-Length does not fit the body.")
        body, binary = parse_json(raw[:header_length]), raw[header_length:]
    else:
        body, binary = parse_json(raw), b""
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list) or not body["inputs"]:
        raise BodyError('The body must be {"inputs": [{"name", "shape", "datatype", "data"}]}.')
    columns: dict[str, list[Any]] = {}
    at = 0
    for tensor in body["inputs"]:
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
            raise BodyError("Each input needs a name, shape, datatype and data.")
        name = tensor["name"]
        shape, datatype = tensor.get("shape"), tensor.get("datatype")
        if not (isinstance(shape, list) and shape and all(isinstance(d, int) for d in shape)):
            raise BodyError(f"Input '{name}' needs a shape: a list of integers.", field=name)
        if any(d < 0 for d in shape) or math.prod(shape) > MAX_ROWS * 1000:
            raise BodyError(f"Input '{name}' has an impossible or oversize shape.", field=name)
        if len(shape) > 1 and math.prod(shape[1:]) != 1:
            raise BodyError(
                f"Input '{name}' must hold one value per row: shape [rows] or [rows, 1].",
                field=name,
            )
        parameters = tensor.get("parameters") or {}
        size = parameters.get("binary_data_size") if isinstance(parameters, dict) else None
        if size is not None:
            if not isinstance(size, int) or size < 0 or at + size > len(binary):
                raise BodyError(f"Input '{name}' binary_data_size does not fit.", field=name)
            chunk, at = binary[at : at + size], at + size
            if datatype == "BYTES":
                values: list[Any] = _bytes_elements(chunk, name, name in binary_inputs)
            elif datatype in _NUMPY:
                width = np.dtype(_NUMPY[datatype]).itemsize
                if len(chunk) % width:
                    raise BodyError(
                        f"Input '{name}' binary data is not whole {datatype}s.", field=name
                    )
                values = np.frombuffer(chunk, dtype=_NUMPY[datatype]).tolist()
            else:
                raise BodyError(f"Input '{name}' has an unknown datatype {datatype!r}.", field=name)
        else:
            if datatype not in _NUMPY and datatype != "BYTES":
                raise BodyError(f"Input '{name}' has an unknown datatype {datatype!r}.", field=name)
            values = _flatten(tensor.get("data"))
        if len(values) != math.prod(shape):
            raise BodyError(
                f"Input '{name}' has {len(values)} values for shape {shape}.", field=name
            )
        columns[name] = values
    outputs = body.get("outputs")
    wanted = None
    if outputs is not None:
        if not isinstance(outputs, list) or not all(
            isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs
        ):
            raise BodyError('"outputs" must be a list of {"name": ...}.')
        wanted = [o["name"] for o in outputs]
    return columns_to_rows(columns), wanted, body.get("id")


def v2_outputs(predictions: Sequence[Any], wanted: list[str] | None) -> list[dict[str, Any]]:
    """Predictions as named tensors: `label` and `probabilities` for classes, `labels` (joined
    by ';') and `probabilities` for multi-label, `value` for a value, `forecast` for a window."""
    n = len(predictions)
    first = predictions[0]
    tensors: list[dict[str, Any]] = []
    if isinstance(first, dict):
        classes = list(first["probabilities"])
        probabilities = [p["probabilities"][c] for p in predictions for c in classes]
        if "label" in first:
            tensors.append(
                {
                    "name": "label",
                    "datatype": "BYTES",
                    "shape": [n],
                    "data": [p["label"] for p in predictions],
                }
            )
        else:
            tensors.append(
                {
                    "name": "labels",
                    "datatype": "BYTES",
                    "shape": [n],
                    "data": [";".join(p["labels"]) for p in predictions],
                }
            )
        tensors.append(
            {
                "name": "probabilities",
                "datatype": "FP32",
                "shape": [n, len(classes)],
                "data": probabilities,
                "parameters": {"classes": ";".join(classes)},
            }
        )
    elif isinstance(first, list):
        tensors.append(
            {
                "name": "forecast",
                "datatype": "FP32",
                "shape": [n, len(first)],
                "data": [v for row in predictions for v in row],
            }
        )
    else:
        tensors.append(
            {"name": "value", "datatype": "FP32", "shape": [n], "data": list(predictions)}
        )
    if wanted is None:
        return tensors
    by_name = {t["name"]: t for t in tensors}
    unknown = [w for w in wanted if w not in by_name]
    if unknown:
        raise BodyError(
            f"No output named '{unknown[0]}'; this model has {', '.join(by_name)}.",
            field=unknown[0],
        )
    return [by_name[w] for w in wanted]


def v2_output_specs(task_type: str, classes: list[str] | None) -> list[dict[str, Any]]:
    if task_type == "regression":
        return [{"name": "value", "datatype": "FP32", "shape": [-1]}]
    if task_type == "forecasting":
        return [{"name": "forecast", "datatype": "FP32", "shape": [-1, -1]}]
    k = len(classes or []) or -1
    label = "labels" if task_type == "multilabel" else "label"
    return [
        {"name": label, "datatype": "BYTES", "shape": [-1]},
        {"name": "probabilities", "datatype": "FP32", "shape": [-1, k]},
    ]


def v2_input_specs(schema: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "name": column["name"],
            "datatype": "FP32" if column.get("type") == "numeric" else "BYTES",
            "shape": [-1],
        }
        for column in schema
    ]
