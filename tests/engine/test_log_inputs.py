"""Skewed positive numeric columns may be read on a log scale: the search offers "log" only
for a table that has one, and the saved model keeps the statistics it needs."""

from __future__ import annotations

from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd

from jobs.engine.column_specs import fit_column_specs
from jobs.engine.data import ColumnType
from jobs.engine.encoding import TabularEncoder, encode_frame, tabular_body

TYPES: dict[str, ColumnType] = {
    "income": "numeric",
    "balance": "numeric",
    "height": "numeric",
    "flag": "boolean",
}


def _table(rows: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "income": rng.lognormal(10, 1, rows),  # skewed, never below zero
            "balance": rng.lognormal(5, 1, rows) - 300,  # skewed, but negative values too
            "height": rng.normal(170, 10, rows),  # not skewed
            "flag": rng.choice([True, False], rows),
        }
    )
    frame.loc[::9, "income"] = np.nan
    return frame


def test_only_skewed_columns_never_below_zero_get_a_log_scale() -> None:
    specs = {s.name: s for s in fit_column_specs(_table(), TYPES)}
    income = specs["income"]
    assert income.skewed
    logged = np.log1p(_table()["income"].dropna())
    assert np.isclose(income.log_mean, logged.mean())
    assert np.isclose(income.log_std, logged.std(ddof=0))
    assert not specs["balance"].skewed
    assert not specs["height"].skewed
    assert not specs["flag"].skewed


def test_log_encoding_standardises_the_log_and_leaves_other_columns_standard(
    tmp_path: Path,
) -> None:
    frame = _table()
    specs = fit_column_specs(frame, TYPES)
    encoder = TabularEncoder([s.to_config() for s in specs], numeric="log")
    x = encode_frame(specs, frame)
    out = keras.ops.convert_to_numpy(encoder(x))
    income, height = specs[0], specs[2]
    present = ~np.isnan(x[:, 0])
    want = (np.log1p(x[present, 0]) - income.log_mean) / income.log_std
    np.testing.assert_allclose(out[present, 0], want, rtol=1e-4, atol=1e-4)
    # a missing income takes the training median, then its log
    np.testing.assert_allclose(
        out[~present, 0], (np.log1p(income.median) - income.log_mean) / income.log_std, atol=1e-5
    )
    np.testing.assert_allclose(out[:, 2], (x[:, 2] - height.mean) / height.std, rtol=1e-4)
    # and the saved model answers the same after loading in safe mode
    inputs = keras.Input(shape=(len(specs),))
    model = keras.Model(inputs, keras.layers.Dense(1)(encoder(inputs)))
    path = tmp_path / "log.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def _numeric_choices(types: dict[str, ColumnType]) -> list[str]:
    hp = kt.HyperParameters()
    tabular_body(hp, [s.to_config() for s in fit_column_specs(_table(), types)])
    return list(hp.get_config()["space"][0]["config"]["values"])


def test_the_search_offers_a_log_scale_only_where_a_column_is_skewed() -> None:
    assert "log" in _numeric_choices(TYPES)
    assert "log" not in _numeric_choices({"height": "numeric", "balance": "numeric"})
