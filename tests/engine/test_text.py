"""Text models: vectorisation lives in the saved file; every architecture saves and loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras_tuner as kt
import numpy as np
import pandas as pd
import pytest

from jobs.engine import model as engine_model
from jobs.engine.data import TaskType
from jobs.engine.runner import Targets
from jobs.engine.search import SearchConfig, run_search
from jobs.engine.tasks.text import TextHyperModel, TextStatistics, tokenize, vectorize
from tests.conftest import RecordingReporter

GOOD = ["great", "lovely", "excellent", "superb"]
BAD = ["awful", "terrible", "poor", "dreadful"]
FILLER = ["the", "film", "was", "really", "plot", "acting", "and"]


def reviews(n: int = 80, seed: int = 0) -> pd.DataFrame:
    """Short reviews whose sentiment words decide the label and the stars."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        positive = i % 2 == 0
        words = [*rng.choice(FILLER, 5), *rng.choice(GOOD if positive else BAD, 2)]
        rng.shuffle(words)
        rows.append({
            "review": " ".join(words).capitalize() + "!",
            "stars": 4.5 if positive else 1.0,
            "sentiment": "pos" if positive else "neg",
        })  # fmt: skip
    return pd.DataFrame(rows)


def test_the_tokenizer_lowercases_strips_punctuation_and_splits() -> None:
    assert tokenize("Great, GREAT film!!  It's\tfine.") == [
        "great",
        "great",
        "film",
        "it",
        "s",
        "fine",
    ]


@pytest.fixture(scope="module")
def text_search(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    workdir = tmp_path_factory.mktemp("text")
    frame = reviews().drop(columns="stars")
    config = SearchConfig(
        target="sentiment", task_type="binary", max_trials=2, max_epochs=3, text_column="review"
    )
    result = run_search(frame, config, workdir=workdir, reporter=RecordingReporter())
    path = workdir / "model.keras"
    result.model.save(path)
    return result, path


def test_a_text_search_classifies_raw_strings_from_the_saved_file(text_search: Any) -> None:
    result, path = text_search
    assert result.hyperparameters["architecture"] in ("bag", "cnn", "rnn", "transformer")
    assert {"accuracy", "macro_f1", "confusion_matrix"} <= set(result.test_metrics)
    records = [{"review": "A great, lovely film"}, {"review": "awful... TERRIBLE acting"}]
    loaded = engine_model.load(str(path))
    from_file = engine_model.predict(loaded, records)
    in_memory = engine_model.predict(result.model, records)
    for a, b in zip(from_file, in_memory, strict=True):
        assert a["label"] == b["label"]
        assert a["probabilities"]["pos"] == pytest.approx(b["probabilities"]["pos"], abs=1e-6)
    assert engine_model.input_schema(loaded) == [{"name": "review", "type": "text"}]
    assert engine_model.class_labels(loaded) == ["neg", "pos"]


@pytest.mark.parametrize(
    ("record", "field", "message"),
    [
        ({}, "review", "missing field 'review'"),
        ({"review": 3}, "review", "must be a string"),
        ({"review": None}, "review", "must be a string"),
        ({"review": "ok", "stars": 3}, "stars", "unknown field"),
    ],
)
def test_malformed_text_instances_name_the_field(
    text_search: Any, record: dict[str, Any], field: str, message: str
) -> None:
    _, path = text_search
    with pytest.raises(engine_model.RecordError, match=message) as caught:
        engine_model.predict(engine_model.load(str(path)), [record])
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("architecture", "task_type"),
    [("bag", "regression"), ("cnn", "multiclass"), ("rnn", "binary"), ("transformer", "binary")],
)
def test_every_architecture_saves_and_loads_in_safe_mode(
    tmp_path: Path, architecture: str, task_type: TaskType
) -> None:
    frame = reviews(40)
    texts = frame["review"].tolist()
    if task_type == "regression":
        targets = Targets("regression", frame["stars"].to_numpy("float32"), mean=2.7, std=1.7)
    else:
        y = (frame["sentiment"] == "pos").to_numpy("float32")
        targets = Targets(task_type, y, ["neg", "pos"])
    hp = kt.HyperParameters()
    hp.Fixed("architecture", architecture)
    if architecture == "bag":
        hp.Fixed("ngrams", 2)
        hp.Fixed("bag_output", "tf_idf")
    model = TextHyperModel(TextStatistics(texts), "review", targets).build(hp)
    model.fit(vectorize(model, texts), targets.y, epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = engine_model.load(str(path))
    records = [{"review": t} for t in texts[:5]] + [{"review": "never seen words here"}]
    from_file = engine_model.predict(loaded, records)
    in_memory = engine_model.predict(model, records)
    if task_type == "regression":
        assert from_file == pytest.approx(in_memory, abs=1e-5)
    else:
        assert [p["label"] for p in from_file] == [p["label"] for p in in_memory]


def test_recurrent_models_are_drawn_only_where_a_gpu_trains(tmp_path: Path) -> None:
    # A CPU worker (this machine) never draws an RNN: one epoch can take minutes there.
    frame = reviews(40)
    targets = Targets("binary", (frame["sentiment"] == "pos").to_numpy("float32"), ["neg", "pos"])
    hp = kt.HyperParameters()
    TextHyperModel(TextStatistics(frame["review"].tolist()), "review", targets).build(hp)
    choices = hp.get_config()["space"]
    architecture = next(c for c in choices if c["config"]["name"] == "architecture")
    assert "rnn" not in architecture["config"]["values"]
    assert {"bag", "cnn", "transformer"} <= set(architecture["config"]["values"])
