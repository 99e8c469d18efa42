"""A saved Keras model as ONNX, through torch's dynamo exporter, checked against Keras.

Under the torch backend a Keras model is a `torch.nn.Module`, so `torch.onnx.export(...,
dynamo=True)` traces it with `torch.export` and translates the graph with onnxscript. Two of
the ops our layers use do not translate as they are; each gets a translation here:

- `erfinv` (the quantile transform of numeric columns, jobs/engine/encoding.py) has no ONNX op:
  it is built from Giles' single-precision approximation and two Newton steps on `Erf`, which
  agrees with torch's own to float32 rounding.
- Keras' torch `take` calls `squeeze(axis)` on a gathered axis of any size, a no-op in torch
  when that axis is not 1, but ONNX's Squeeze refuses it: the translation keeps the no-op.

Nothing here touches the database or the storage: models_registry/exports.py does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

# The exported file's input and output names; docs/api.md tells clients.
INPUT_NAME = "rows"
OUTPUT_NAME = "outputs"
# What the exported model's outputs may differ from the `.keras` model's: absolutely for
# outputs up to 1 (probabilities), relatively above (a regression answers in the target's
# units, where float32 itself only keeps about 7 digits: 1e-5 of 2000 is 0.02).
PARITY_TOLERANCE = 1e-5

_CENTRAL = (
    2.81022636e-08,
    3.43273939e-07,
    -3.5233877e-06,
    -4.39150654e-06,
    0.00021858087,
    -0.00125372503,
    -0.00417768164,
    0.246640727,
    1.50140941,
)
_TAIL = (
    -0.000200214257,
    0.000100950558,
    0.00134934322,
    -0.00367342844,
    0.00573950773,
    -0.0076224613,
    0.00943887047,
    1.00167406,
    2.83297682,
)


class ExportFailed(Exception):
    """The model cannot be exported, or its export does not predict what it predicts."""


def _ops() -> Any:
    # onnxscript's op stubs are typed for its script mode; traced here, they take Python
    # numbers and return plain values.
    from onnxscript import opset18

    return opset18


def _erf_inv(x: Any) -> Any:
    op = _ops()

    def const(value: float) -> Any:
        return op.CastLike(value, x)

    def horner(coefficients: tuple[float, ...], w: Any) -> Any:
        p = const(coefficients[0])
        for c in coefficients[1:]:
            p = op.Add(const(c), op.Mul(p, w))
        return p

    w = op.Neg(op.Log(op.Mul(op.Sub(const(1.0), x), op.Add(const(1.0), x))))
    central = horner(_CENTRAL, op.Sub(w, const(2.5)))
    tail = horner(_TAIL, op.Sub(op.Sqrt(w), const(3.0)))
    y = op.Mul(op.Where(op.Less(w, const(5.0)), central, tail), x)
    # Newton on erf(y) = x: the derivative of erf is 2/sqrt(pi) * exp(-y^2).
    half_root_pi = const(0.886226925452758)
    for _ in range(2):
        slope = op.Div(op.Exp(op.Neg(op.Mul(y, y))), half_root_pi)
        y = op.Sub(y, op.Div(op.Sub(op.Erf(y), x), slope))
    return y


def _squeeze_dim(x: Any, dim: int) -> Any:
    op = _ops()

    shape = x.shape
    if shape is not None and len(shape) > 0:
        size = shape[dim % len(shape)]
        if isinstance(size, int) and size != 1:
            return op.Identity(x)
    return op.Squeeze(x, op.Constant(value_ints=[dim]))


def _translations() -> dict[Any, Any]:
    import torch

    return {
        torch.ops.prims.erf_inv.default: _erf_inv,
        torch.ops.aten.erfinv.default: _erf_inv,
        torch.ops.aten.squeeze.dim: _squeeze_dim,
    }


def _probe_rows(model: Any) -> np.ndarray:
    """Rows every model of ours accepts: zeros are each numeric column's value 0, each
    categorical column's unknown bucket, a black image."""
    shape = tuple(model.inputs[0].shape)
    dtype = str(model.inputs[0].dtype)
    if "string" in dtype:
        raise ExportFailed("This model takes text; ONNX export covers numeric inputs only.")
    rows = np.zeros((3, *[int(d or 1) for d in shape[1:]]), dtype=dtype)
    rows[1] = 1
    rows[2] = -0.5 if rows.dtype.kind == "f" else 2
    return rows


def check_parity(model: Any, onnx_path: Path, rows: np.ndarray) -> float:
    """The largest difference between the two models' outputs on these rows, relative to
    the `.keras` model's output where that is above 1 in size."""
    import onnxruntime

    # The export takes the dtype the model's input declares (float32); Keras casts to it.
    rows = np.asarray(rows).astype(str(model.inputs[0].dtype))
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(None, {INPUT_NAME: rows})[0]
    want = np.asarray(model.predict(rows, verbose=0))
    if got.shape != want.shape:
        raise ExportFailed(f"The export answers shape {got.shape}, Keras {want.shape}.")
    want64 = want.astype("float64")
    scaled = np.abs(got.astype("float64") - want64) / np.maximum(1.0, np.abs(want64))
    return float(np.max(scaled, initial=0.0))


def export_onnx(model: Any, out_path: Path, *, labels: list[str] | None = None) -> float:
    """Write `model` (Keras, torch backend) as ONNX with a dynamic batch; verify it on probe
    rows and return the largest output difference. Raises ExportFailed with the reason."""
    import keras
    import onnx
    import torch

    if keras.backend.backend() != "torch":
        raise ExportFailed(f"ONNX export needs the torch backend, not {keras.backend.backend()}.")
    rows = _probe_rows(model)

    class Rows(torch.nn.Module):
        # A named single input, so the batch axis can be declared dynamic.
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, rows: Any) -> Any:
            return self.inner(rows, training=False)

    try:
        program = torch.onnx.export(
            Rows(model).eval(),
            (torch.from_numpy(rows),),
            dynamo=True,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes=({0: torch.export.Dim("batch")},),
            custom_translation_table=_translations(),
            verbose=False,
        )
    except Exception as exc:  # the exporter's errors are many and long; keep the summary
        summary = str(exc).split("## Exception summary")[-1].strip().splitlines()
        raise ExportFailed(
            "torch.onnx could not export this model: " + " ".join(summary[:2])[:500]
        ) from exc
    if program is None:
        raise ExportFailed("torch.onnx returned no program.")
    proto = program.model_proto
    if labels is not None:
        import json

        onnx.helper.set_model_props(proto, {"labels": json.dumps(labels)})
    onnx.save(proto, str(out_path))
    difference = check_parity(model, out_path, rows)
    if not difference <= PARITY_TOLERANCE:
        raise ExportFailed(
            f"The export's outputs differ from the model's by {difference:.3g} "
            f"(more than {PARITY_TOLERANCE:g}); it is not offered."
        )
    return difference
