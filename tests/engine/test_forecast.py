"""Forecasting: windows split by time, metrics per step beside a naive baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras_tuner as kt
import numpy as np
import pandas as pd
import pytest

from jobs.engine import model as engine_model
from jobs.engine.data import DataError
from jobs.engine.facts import FrameFacts
from jobs.engine.search import SearchConfig, run_search
from jobs.engine.task_data import check_forecast_target
from jobs.engine.tasks import forecast
from tests.conftest import RecordingReporter


def series(n: int = 160, seed: int = 0) -> pd.DataFrame:
    """A daily seasonal signal with a covariate, shuffled: the engine must sort by time."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    frame = pd.DataFrame({
        "day": pd.date_range("2024-01-01", periods=n, freq="D").astype(str),
        "temperature": np.sin(t / 4) + rng.normal(0, 0.05, n),
        "sales": 10 + 3 * np.sin(t / 4 + 0.5) + rng.normal(0, 0.1, n),
        "shop": ["a", "b"] * (n // 2),
    })  # fmt: skip
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"timestamp": ""}, "needs a timestamp column"),
        ({"target": "shop"}, "numeric target"),
        ({"target": "day"}, "is the timestamp column"),
        ({"horizon": 0}, "at least 1 step"),
        ({"rows": 12}, "needs at least"),
    ],
)
def test_what_cannot_be_forecast_is_refused(change: dict[str, Any], message: str) -> None:
    frame = series(change.get("rows", 160))
    with pytest.raises(DataError, match=message):
        check_forecast_target(
            FrameFacts(frame),
            change.get("target", "sales"),
            change.get("timestamp", "day"),
            change.get("horizon", 3),
            None,
        )


@pytest.fixture(scope="module")
def forecast_search(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    workdir = tmp_path_factory.mktemp("forecast")
    config = SearchConfig(
        target="sales", task_type="forecasting", max_trials=2, max_epochs=4,
        timestamp_column="day", horizon=3,
    )  # fmt: skip
    result = run_search(series(), config, workdir=workdir, reporter=RecordingReporter())
    path = workdir / "model.keras"
    result.model.save(path)
    return result, path


def test_forecast_metrics_per_step_with_a_naive_baseline(forecast_search: Any) -> None:
    result, _ = forecast_search
    metrics = result.test_metrics
    assert metrics["horizon"] == 3
    assert [s["step"] for s in metrics["per_step"]] == [1, 2, 3]
    assert {"rmse", "mae", "r2", "naive_rmse"} <= set(metrics) & set(metrics["per_step"][0])
    assert result.hyperparameters["lookback"] in (4, 8, 16)
    # chronological: the 20% of rows at the end, less the windows straddling the cut
    assert result.n_test == 32 - 3 + 1


def test_saved_forecaster_takes_the_last_rows_and_answers_the_horizon(
    forecast_search: Any,
) -> None:
    result, path = forecast_search
    loaded = engine_model.load(str(path))
    (schema,) = engine_model.input_schema(loaded)
    assert (schema["name"], schema["horizon"], schema["target"]) == ("history", 3, "sales")
    assert [c["name"] for c in schema["columns"]] == ["sales", "temperature"]
    ordered = series().sort_values("day")
    history = ordered[["day", "sales", "temperature"]].iloc[-schema["lookback"] - 2 :]
    records = [{"history": history.to_dict("records")}]
    from_file = engine_model.predict(loaded, records)
    assert from_file[0] == pytest.approx(engine_model.predict(result.model, records)[0])
    assert len(from_file[0]) == 3
    assert all(5 < v < 15 for v in from_file[0])


@pytest.mark.parametrize(
    ("record", "field", "message"),
    [
        ({"rows": []}, "rows", "unknown field"),
        ({"history": "x"}, "history", "list of the last"),
        ({"history": [{"sales": 1.0, "temperature": 0.1}]}, "history", "at least the last"),
        ({"history": "short-sales"}, "sales", "must be a number"),
        ({"history": "no-temperature"}, "temperature", "missing field 'temperature'"),
    ],
)
def test_malformed_histories_name_the_field(
    forecast_search: Any, record: dict[str, Any], field: str, message: str
) -> None:
    _, path = forecast_search
    loaded = engine_model.load(str(path))
    lookback = engine_model.input_schema(loaded)[0]["lookback"]
    good = [{"sales": 10.0, "temperature": 0.0}] * lookback
    if record.get("history") == "short-sales":
        record = {"history": [*good[1:], {"sales": "ten", "temperature": 0.0}]}
    elif record.get("history") == "no-temperature":
        record = {"history": [*good[1:], {"sales": 1.0}]}
    with pytest.raises(engine_model.RecordError, match=message) as caught:
        engine_model.predict(loaded, [record])
    assert caught.value.field == field


@pytest.mark.usefixtures("always_ensemble")
def test_an_ensemble_of_forecasters_asks_for_the_longest_history(tmp_path: Path) -> None:
    config = SearchConfig(
        target="sales", task_type="forecasting", max_trials=3, max_epochs=2,
        timestamp_column="day", horizon=2, tuner="random", seed=3,
    )  # fmt: skip
    result = run_search(series(), config, workdir=tmp_path, reporter=RecordingReporter())
    assert result.source == "ensemble_top3"
    path = tmp_path / "ensemble.keras"
    result.model.save(path)
    loaded = engine_model.load(str(path))
    (schema,) = engine_model.input_schema(loaded)
    lookbacks = [layer.lookback for layer in _windows(loaded)]
    assert schema["lookback"] == max(lookbacks)
    history = series().sort_values("day")[["day", "sales", "temperature"]]
    records = [{"history": history.iloc[-schema["lookback"] :].to_dict("records")}]
    from_file = engine_model.predict(loaded, records)
    assert from_file[0] == pytest.approx(engine_model.predict(result.model, records)[0])
    assert len(from_file[0]) == 2


def _windows(model: Any) -> list[Any]:
    from jobs.engine.tasks.forecast import ForecastWindow

    found = []
    for layer in model.layers:
        if isinstance(layer, ForecastWindow):
            found.append(layer)
        elif hasattr(layer, "layers"):
            found += _windows(layer)
    return found


@pytest.mark.parametrize(("lookback", "recurrent"), [(None, True), (128, False)])
def test_recurrent_forecasters_are_drawn_on_a_cpu_only_over_short_windows(
    lookback: int | None, recurrent: bool
) -> None:
    # A CPU worker (this machine): the searched windows (at most 64 rows) keep GRU/LSTM, a
    # job's own 128-row window does not (ten times a CNN's epoch there).
    config = SearchConfig(
        target="sales", task_type="forecasting", timestamp_column="day", horizon=2,
        lookback=lookback,
    )  # fmt: skip
    data = forecast.prepare(series(600), config)
    hp = kt.HyperParameters()
    forecast.hypermodel(data, config)(hp)
    (architecture,) = [c for c in hp.get_config()["space"] if c["config"]["name"] == "architecture"]
    assert ("rnn" in architecture["config"]["values"]) is recurrent
    assert {"mlp", "cnn"} <= set(architecture["config"]["values"])
