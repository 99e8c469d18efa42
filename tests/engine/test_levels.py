"""Repeating whole numbers embedded level by level, and positive targets on a log scale."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pandas as pd

from jobs.engine.column_specs import fit_column_specs
from jobs.engine.encoding import TabularEncoder, encode_frame
from jobs.engine.tasks.tabular import TargetStats


def _table(rows: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "month": rng.integers(1, 13, rows),  # 12 levels, ~33 rows each: wide
            "person": np.repeat(np.arange(rows // 4), 4),  # 100 levels, 4 rows each: narrow
            "price": rng.normal(100, 20, rows),  # continuous: no levels
            "flag": rng.integers(0, 2, rows),  # two values: a number, not levels
        }
    )


def test_repeating_whole_numbers_get_levels_and_a_width_fit_to_their_rows() -> None:
    frame = _table()
    types = {"month": "numeric", "person": "numeric", "price": "numeric", "flag": "numeric"}
    specs = {s.name: s for s in fit_column_specs(frame, types)}  # type: ignore[arg-type]
    assert specs["month"].levels == tuple(float(v) for v in range(1, 13))
    assert specs["month"].level_width > 4
    assert len(specs["person"].levels) == 100
    assert specs["person"].level_width == 4
    assert specs["price"].levels == ()
    assert specs["flag"].levels == ()
    # Too few rows per level: an id seen twice teaches an embedding nothing.
    sparse = fit_column_specs(frame.iloc[::2], {"person": "numeric"})[0]
    assert sparse.levels == ()


def test_a_level_embedding_survives_saving_and_treats_unseen_levels_as_unknown(
    tmp_path: Path,
) -> None:
    frame = _table()
    types = {"month": "numeric", "person": "numeric", "price": "numeric", "flag": "numeric"}
    specs = fit_column_specs(frame, types)  # type: ignore[arg-type]
    inputs = keras.Input(shape=(len(specs),))
    encoded = TabularEncoder([s.to_config() for s in specs], "ple", levels="embedding")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(encoded))
    x = encode_frame(specs, frame)
    path = tmp_path / "levels.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    # A month training never saw (13) reads as the unknown bucket, like a missing one.
    encoder = loaded.get_layer(index=1)
    month_index = encoder._level_index(
        np.array([13.0, np.nan, 1.0], "float32"), np.array(specs[0].levels, "float32")
    )
    assert keras.ops.convert_to_numpy(month_index).tolist() == [0, 0, 1]


def test_a_positive_target_may_be_learned_on_a_log_scale() -> None:
    rng = np.random.default_rng(0)
    assert TargetStats.of(rng.normal(2000, 300, 500)).positive
    assert not TargetStats.of(rng.normal(2000, 300, 500)).skewed
    assert TargetStats.of(rng.lognormal(0, 1, 500)).skewed
    assert not TargetStats.of(rng.normal(0, 1, 500)).positive
