"""The ONNX export predicts what the `.keras` model predicts, within 1e-5, for every way a
table's columns are encoded; the exporter's own translations are checked on their own."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from jobs.engine.column_specs import fit_column_specs
from jobs.engine.data import ColumnType
from jobs.engine.encoding import TabularEncoder, encode_frame
from jobs.engine.layers import Smearing, compiled_head
from models_registry import onnx_export


def _frame(rows: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "skewed": rng.lognormal(size=rows),
            "plain": rng.normal(size=rows),
            "month": rng.integers(1, 13, size=rows).astype(float),
            "colour": rng.choice(["red", "green", "blue"], size=rows),
            "flag": rng.choice([True, False], size=rows),
        }
    )
    frame.loc[::7, "plain"] = np.nan
    return frame


TYPES: dict[str, ColumnType] = {
    "skewed": "numeric",
    "plain": "numeric",
    "month": "numeric",
    "colour": "categorical",
    "flag": "boolean",
}


def _model(
    numeric: str, categorical: str, levels: str, outputs: int
) -> tuple[keras.Model, np.ndarray]:
    frame = _frame()
    specs = fit_column_specs(frame, TYPES)
    encoder = TabularEncoder(
        [s.to_config() for s in specs], numeric=numeric, categorical=categorical, levels=levels
    )
    rows = keras.Input(shape=(len(specs),))
    hidden = keras.layers.Dense(8, activation="relu")(encoder(rows))
    activation = "softmax" if outputs > 1 else None
    model = keras.Model(rows, keras.layers.Dense(outputs, activation=activation)(hidden))
    test = encode_frame(specs, frame)
    # rows training never saw: an unknown category, a missing value, far outliers
    test[:5, 0] = [1e6, -1e6, 0.0, np.nan, 3.0]
    test[5, 3] = 0.0
    return model, test.astype("float32")


@pytest.mark.parametrize(
    ("numeric", "categorical", "levels", "outputs"),
    [
        ("standard", "onehot", "none", 3),
        ("quantile", "embedding", "none", 3),
        ("ple", "onehot", "embedding", 1),
        ("quantile", "onehot", "embedding", 1),
        ("log", "embedding", "none", 1),
    ],
)
def test_tabular_export_matches_keras(
    numeric: str, categorical: str, levels: str, outputs: int, tmp_path: Path
) -> None:
    model, rows = _model(numeric, categorical, levels, outputs)
    path = tmp_path / "model.onnx"
    assert onnx_export.export_onnx(model, path) <= onnx_export.PARITY_TOLERANCE
    difference = onnx_export.check_parity(model, path, rows)
    assert difference <= onnx_export.PARITY_TOLERANCE, difference


def test_a_log_scale_target_exports_with_its_smearing_factor(tmp_path: Path) -> None:
    # given a regression model on a log scale whose factor training moved off 1
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 2)).astype("float32")
    y = np.exp(3 + x[:, 0] + rng.normal(0, 0.5, 500)).astype("float32")
    logged = np.log1p(y)
    inputs = keras.Input((2,))
    hidden = keras.layers.Dense(4, activation="relu")(inputs)
    model = compiled_head(
        inputs, hidden, "regression", [], 0.01, float(logged.mean()), float(logged.std()),
        target_transform="log",
    )  # fmt: skip
    model.fit(x, y, epochs=3, verbose=0, callbacks=[Smearing(x, y)])
    factor = float(keras.ops.convert_to_numpy(model.get_layer("target_scale").smear))
    assert abs(factor - 1.0) > 0.01
    # then the ONNX file answers as the .keras file does, the factor included
    path = tmp_path / "model.onnx"
    assert onnx_export.export_onnx(model, path) <= onnx_export.PARITY_TOLERANCE
    assert onnx_export.check_parity(model, path, x) <= onnx_export.PARITY_TOLERANCE


def test_erfinv_translation_agrees_with_torch(tmp_path: Path) -> None:
    import onnxruntime
    import torch

    class Erfinv(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.erfinv(x)

    x = np.linspace(-0.999, 0.999, 20001, dtype="float32")
    program = torch.onnx.export(
        Erfinv(),
        (torch.from_numpy(x),),
        dynamo=True,
        input_names=["x"],
        custom_translation_table=onnx_export._translations(),
        verbose=False,
    )
    assert program is not None
    program.save(str(tmp_path / "erfinv.onnx"))
    got = onnxruntime.InferenceSession(str(tmp_path / "erfinv.onnx")).run(None, {"x": x})[0]
    want = torch.erfinv(torch.from_numpy(x)).numpy()
    assert np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want))) < 1e-6
