"""A target learned on a log scale answers the mean a squared error asks for, not the median:
the smearing factor (jobs/engine/layers.py:Smearing) is kept current while a model trains,
and saved in the file."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from jobs.engine.layers import Smearing, TargetScale, compiled_head

SIGMA = 0.6  # log-scale noise: the mean is exp(SIGMA**2 / 2) = 1.197 times the median


def _data(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 1)).astype("float32")
    y = np.exp(5.0 + x[:, 0] + rng.normal(0, SIGMA, rows))
    return x, y.astype("float32")


def _model(smearing: bool) -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((1,))
    y = np.log1p(_data(4000, 0)[1])
    model = compiled_head(
        inputs, inputs, "regression", [], 0.05, float(y.mean()), float(y.std()),
        target_transform="log",
    )  # fmt: skip
    if not smearing:
        model.get_layer("target_scale").smear = None
    return model


def _rmse(model: keras.Model, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.sqrt(np.mean((model.predict(x, verbose=0).reshape(-1) - y) ** 2)))


def test_the_factor_corrects_a_log_models_answers_and_survives_saving(tmp_path: Path) -> None:
    train, test = _data(4000, 0), _data(4000, 1)
    smeared, plain = _model(True), _model(False)
    for model in (smeared, plain):
        model.fit(*train, validation_data=test, epochs=15, verbose=0, callbacks=[Smearing(*train)])
    factor = float(keras.ops.convert_to_numpy(smeared.get_layer("target_scale").smear))
    assert abs(factor - np.exp(SIGMA**2 / 2)) < 0.08, factor
    # the median answers run low (a sixth, for a perfect fit); the corrected ones near the mean
    x, y = test
    assert np.mean(plain.predict(x, verbose=0)) < 0.92 * np.mean(y)
    assert abs(np.mean(smeared.predict(x, verbose=0)) / np.mean(y) - 1) < 0.06
    assert _rmse(smeared, *test) < _rmse(plain, *test)
    path = tmp_path / "smeared.keras"
    smeared.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), smeared.predict(x, verbose=0))


def test_a_file_saved_before_the_factor_loads_without_it() -> None:
    old = {"name": "target_scale", "mean": 1.0, "std": 2.0, "transform": "log"}
    layer = TargetScale.from_config(old)
    layer.build((None, 1))
    assert layer.smear is None
    assert layer.weights == []
    out = keras.ops.convert_to_numpy(layer(np.zeros((1, 1), "float32")))
    np.testing.assert_allclose(out, np.expm1(1.0), rtol=1e-6)
