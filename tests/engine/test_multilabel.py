"""Multi-label: label lists in one column, sigmoid outputs, per-label metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from jobs.engine import model as engine_model
from jobs.engine.data import DataError
from jobs.engine.facts import FrameFacts
from jobs.engine.search import SearchConfig, run_search
from jobs.engine.task_data import check_multilabel_target, detect_delimiter, parse_label_sets
from tests.conftest import RecordingReporter


def tagged(n: int = 90, seed: int = 0) -> pd.DataFrame:
    """Two numbers decide the tags: 'big' when x > 0, 'red' when y > 0 (both, one or none)."""
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=n), rng.normal(size=n)
    tags = [
        ";".join(t for t, on in (("big", a > 0), ("red", b > 0)) if on)
        for a, b in zip(x, y, strict=True)
    ]
    colour = [("north", "south")[i % 2] for i in range(n)]
    return pd.DataFrame({"x": x, "y": y, "site": colour, "tags": [t or None for t in tags]})


def test_delimiters_are_detected_and_empty_cells_are_no_labels() -> None:
    assert detect_delimiter(pd.Series(["a|b", "c", "b|c"])) == "|"
    assert detect_delimiter(pd.Series(["a;b", "c"])) == ";"
    assert parse_label_sets(pd.Series(["a; b", None, "b;;a"]), ";") == [
        frozenset({"a", "b"}), frozenset(), frozenset({"a", "b"}),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([1, 2, 3] * 5, "holds numbers"),
        (["a", "b", "c"] * 5, "more than one label"),
        (["a;a", "a", None] * 5, "fewer than two distinct labels"),
    ],
)
def test_targets_that_are_not_label_lists_are_refused(values: list[Any], message: str) -> None:
    frame = pd.DataFrame({"x": range(len(values)), "tags": values})
    with pytest.raises(DataError, match=message):
        check_multilabel_target(FrameFacts(frame), "tags", None)


@pytest.fixture(scope="module")
def multilabel_search(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    workdir = tmp_path_factory.mktemp("multilabel")
    config = SearchConfig(target="tags", task_type="multilabel", max_trials=2, max_epochs=5)
    result = run_search(tagged(), config, workdir=workdir, reporter=RecordingReporter())
    path = workdir / "model.keras"
    result.model.save(path)
    return result, path


def test_multilabel_metrics_are_per_label_and_overall(multilabel_search: Any) -> None:
    result, _ = multilabel_search
    metrics = result.test_metrics
    assert metrics["labels"] == ["big", "red"]
    assert {"micro_f1", "macro_f1", "subset_accuracy", "hamming_loss", "log_loss"} <= set(metrics)
    assert set(metrics["per_label"]["big"]) == {"precision", "recall", "f1", "support"}
    assert 0.0 <= metrics["hamming_loss"] <= 1.0
    assert result.n_test == 18


def test_saved_multilabel_model_answers_labels_and_probabilities(
    multilabel_search: Any,
) -> None:
    result, path = multilabel_search
    loaded = engine_model.load(str(path))
    rows = tagged().drop(columns="tags").iloc[:6].to_dict("records")
    from_file = engine_model.predict(loaded, rows)
    in_memory = engine_model.predict(result.model, rows)
    for a, b in zip(from_file, in_memory, strict=True):
        assert a["labels"] == b["labels"]
        assert set(a["probabilities"]) == {"big", "red"}
        assert a["probabilities"]["big"] == pytest.approx(b["probabilities"]["big"], abs=1e-6)
        assert a["labels"] == [k for k, p in a["probabilities"].items() if p >= 0.5]
    assert engine_model.class_labels(loaded) == ["big", "red"]
    assert engine_model.input_schema(loaded)[0] == {"name": "x", "type": "numeric"}


def test_text_multilabel_uses_the_text_models(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    rows = []
    for i in range(60):
        tags = [t for t, on in (("sport", i % 2 == 0), ("money", i % 3 == 0)) if on]
        words = ["goal", "match"] * (i % 2 == 0) + ["bank", "price"] * (i % 3 == 0)
        rows.append({"body": " ".join([*words, *rng.choice(["the", "a", "news"], 3)]),
                     "tags": "|".join(tags) or None})  # fmt: skip
    config = SearchConfig(
        target="tags", task_type="multilabel", max_trials=1, max_epochs=2, text_column="body"
    )
    result = run_search(pd.DataFrame(rows), config, workdir=tmp_path, reporter=RecordingReporter())
    assert result.test_metrics["labels"] == ["money", "sport"]
    (prediction,) = engine_model.predict(result.model, [{"body": "goal for the bank"}])
    assert set(prediction["probabilities"]) == {"money", "sport"}


@pytest.mark.usefixtures("always_ensemble")
def test_an_ensemble_of_multilabel_models_answers_label_sets(tmp_path: Path) -> None:
    config = SearchConfig(target="tags", task_type="multilabel", max_trials=3, max_epochs=2)
    result = run_search(tagged(), config, workdir=tmp_path, reporter=RecordingReporter())
    assert result.source == "ensemble_top3"
    path = tmp_path / "ensemble.keras"
    result.model.save(path)
    loaded = engine_model.load(str(path))
    rows = tagged().drop(columns="tags").iloc[:5].to_dict("records")
    for a, b in zip(
        engine_model.predict(loaded, rows),
        engine_model.predict(result.model, rows),
        strict=True,
    ):
        assert a["labels"] == b["labels"]
        assert a["probabilities"]["red"] == pytest.approx(b["probabilities"]["red"], abs=1e-6)
    assert engine_model.class_labels(loaded) == ["big", "red"]


def test_the_multilabel_objective_is_binary_cross_entropy() -> None:
    from jobs.engine.tasks.multilabel import binary_cross_entropy

    y = np.array([[1.0, 0.0]])
    assert binary_cross_entropy(y, np.array([[0.9, 0.1]])) == pytest.approx(-np.log(0.9))
    assert binary_cross_entropy(y, np.array([[0.9, 0.1]])) < binary_cross_entropy(
        y, np.array([[0.6, 0.4]])
    )
