"""Image search end to end: an archive in, a saved model that answers base64 images out."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import pytest
from PIL import Image

from jobs.engine import model as engine_model
from jobs.engine.data import DataError
from jobs.engine.ensemble import build_ensemble
from jobs.engine.io.images import check_image_target
from jobs.engine.model import RecordError
from jobs.engine.search import SearchConfig, SearchResult, run_image_search
from jobs.engine.tasks.image import cnn_space, load_image_archive, to_array
from tests.conftest import RecordingReporter
from tests.image_data import b64, brightness_zip, encode, png_declaring, shape, shapes_zip

Searched = tuple[SearchResult, RecordingReporter, Path]


def _members(archive: bytes, count: int) -> list[bytes]:
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        names = [n for n in zf.namelist() if not n.endswith((".csv", "/"))]
        return [zf.read(n) for n in names[:count]]


@pytest.fixture(scope="module")
def shapes(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[SearchResult, RecordingReporter, Path]:
    workdir = tmp_path_factory.mktemp("image-search")
    archive = workdir / "shapes.zip"
    archive.write_bytes(shapes_zip())
    reporter = RecordingReporter()
    config = SearchConfig(
        target="label", task_type="binary", max_trials=2, max_epochs=3, batch_size=8
    )
    result = run_image_search(archive, config, workdir=workdir, reporter=reporter)
    result.model.save(workdir / "model.keras")
    return result, reporter, workdir / "model.keras"


def test_the_search_learns_the_classes_and_records_its_input(shapes: Any) -> None:
    result, reporter, _ = shapes
    assert [c for c in reporter.calls if c[0] == "trial_finished"] == [
        ("trial_finished", (1, "COMPLETED")),
        ("trial_finished", (2, "COMPLETED")),
    ]
    assert (result.n_train, result.n_validation, result.n_test) == (24, 8, 8)
    metrics = result.test_metrics
    assert metrics["labels"] == ["blue", "red"]
    assert metrics["accuracy"] >= 0.75
    assert {"balanced_accuracy", "macro_f1", "log_loss", "confusion_matrix", "roc_auc"} <= set(
        metrics
    )
    assert "feature_importance" not in metrics
    # Mostly 16x16 with a few 20x20: the median, a power of two; alpha and colour give RGB.
    image_input = result.manifest["image_input"]
    assert (image_input["height"], image_input["width"], image_input["channels"]) == (16, 16, 3)
    assert (image_input["n_images"], image_input["n_unreadable"]) == (40, 0)
    assert image_input["stratified"] is True
    assert {"conv_blocks", "kernel_size", "pooling", "normalization", "augment"} <= set(
        result.hyperparameters
    )
    assert result.manifest["split"]["indices_sha256"]


def test_the_saved_model_answers_base64_images_like_the_trained_one(shapes: Any) -> None:
    # given the model saved by the search, loaded in safe mode as the predictor does
    result, _, path = shapes
    loaded = engine_model.load(str(path))
    images = _members(shapes_zip(), 6)

    # when both are asked about the same images, the loaded one through base64
    answers = engine_model.predict(loaded, [{"image": b64(data)} for data in images])
    batch = np.stack([to_array(Image.open(io.BytesIO(data)), 16, 16, 3) for data in images])
    expected = keras.ops.convert_to_numpy(result.model.predict(batch, verbose=0))

    # then they agree, and the answer names labels with their probabilities
    for answer, row in zip(answers, expected, strict=True):
        assert set(answer) == {"label", "probabilities"}
        assert answer["label"] == ["blue", "red"][int(np.argmax(row))]
        assert np.allclose([answer["probabilities"][k] for k in ("blue", "red")], row, atol=1e-5)
    assert engine_model.input_schema(loaded) == [
        {
            "name": "image",
            "type": "image",
            "formats": ["PNG", "JPEG", "WEBP"],
            "height": 16,
            "width": 16,
            "channels": 3,
        }
    ]
    assert engine_model.class_labels(loaded) == ["blue", "red"]
    # A data: URL prefix, as a browser's FileReader gives it, is accepted too.
    rng = np.random.default_rng(7)
    url = "data:image/png;base64," + b64(encode(shape("red", rng, 64)))
    (red,) = engine_model.predict(loaded, [{"image": url}])
    assert red["label"] == "red"


def test_an_ensemble_of_image_models_saves_and_answers_images(shapes: Any, tmp_path: Path) -> None:
    _, _, path = shapes
    members = [engine_model.load(str(path)) for _ in range(2)]
    ensemble = build_ensemble(members, ["blue", "red"], shape=(16, 16, 3), input_name="image")
    ensemble.save(tmp_path / "ensemble.keras")
    loaded = engine_model.load(str(tmp_path / "ensemble.keras"))
    instances = [{"image": b64(data)} for data in _members(shapes_zip(), 3)]
    single = engine_model.predict(engine_model.load(str(path)), instances)
    averaged = engine_model.predict(loaded, instances)
    assert [a["label"] for a in averaged] == [s["label"] for s in single]
    assert engine_model.input_schema(loaded)[0]["height"] == 16


def test_regression_answers_in_the_values_units(tmp_path: Path) -> None:
    archive = tmp_path / "brightness.zip"
    archive.write_bytes(brightness_zip())
    config = SearchConfig(target="value", task_type="regression", max_trials=1, max_epochs=3)
    result = run_image_search(archive, config, workdir=tmp_path, reporter=RecordingReporter())
    assert {"rmse", "mae", "r2", "residuals"} <= set(result.test_metrics)
    assert result.manifest["image_input"]["channels"] == 1  # grey images: one channel
    result.model.save(tmp_path / "model.keras")
    loaded = engine_model.load(str(tmp_path / "model.keras"))
    images = _members(brightness_zip(), 4)
    answers = engine_model.predict(loaded, [{"image": b64(data)} for data in images])
    assert all(isinstance(a, float) for a in answers)
    batch = np.stack([to_array(Image.open(io.BytesIO(d)), 16, 16, 1) for d in images])
    expected = keras.ops.convert_to_numpy(result.model.predict(batch, verbose=0)).reshape(-1)
    assert np.allclose(answers, expected, atol=1e-4)
    # The target was standardised for training and is rescaled inside the model.
    assert loaded.get_layer("target_scale") is not None
    assert engine_model.class_labels(loaded) is None


def test_augmentation_runs_in_training_only_and_survives_saving(tmp_path: Path) -> None:
    # given a model with the augmentation layers and nothing else random
    data = load_image_archive(_write(tmp_path, shapes_zip(20)), max_side=16)
    hp = kt.HyperParameters()
    for name, value in [("augment", True), ("normalization", "none"), ("dropout", 0.0)]:
        hp.Fixed(name, value)
    model = cnn_space(data, "binary", ["blue", "red"], 0.0, 1.0)(hp)
    y = np.arange(len(data.x)) % 2
    model.fit(data.x, y, epochs=1, batch_size=8, verbose=0)
    x = data.x[:8]

    # then training-mode calls differ from run to run, inference is deterministic
    first = keras.ops.convert_to_numpy(model(x, training=True))
    second = keras.ops.convert_to_numpy(model(x, training=True))
    assert not np.allclose(first, second)
    inference = keras.ops.convert_to_numpy(model.predict(x, verbose=0))
    assert np.allclose(inference, keras.ops.convert_to_numpy(model.predict(x, verbose=0)))

    # and the saved file loads in safe mode and predicts the same
    model.save(tmp_path / "augmented.keras")
    loaded = engine_model.load(str(tmp_path / "augmented.keras"))
    assert np.allclose(inference, keras.ops.convert_to_numpy(loaded.predict(x, verbose=0)))


def _write(tmp_path: Path, archive: bytes, name: str = "a.zip") -> Path:
    path = tmp_path / name
    path.write_bytes(archive)
    return path


def test_input_size_and_channels_come_from_the_data(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for i in range(6):
            grey = Image.fromarray(rng.integers(0, 255, (300, 200), dtype="uint8"), "L")
            zf.writestr(f"{('a', 'b')[i % 2]}/{i}.png", encode(grey))
        zf.writestr("a/broken.png", encode(grey)[:60])
    path = _write(tmp_path, buffer.getvalue())

    data = load_image_archive(path, max_side=64)
    # median 300x200 (HxW): 256x256 as powers of two, capped at 64; grey: one channel
    assert (data.x.shape, data.x.dtype) == ((6, 64, 64, 1), np.dtype("uint8"))
    assert [u["name"] for u in data.unreadable] == ["a/broken.png"]

    small = load_image_archive(path, max_side=64, max_bytes=7 * 16 * 16)  # 7 headers read
    assert small.x.shape == (6, 16, 16, 1)
    assert "halved to fit in memory" in small.size_rule
    with pytest.raises(DataError, match="do not fit in memory"):
        load_image_archive(path, max_side=64, max_bytes=10)


@pytest.mark.parametrize(
    ("instance", "message"),
    [
        ("a string", "must be an object"),
        ({}, "needs field 'image'"),
        ({"image": 3}, "needs field 'image'"),
        ({"image": "x", "colour": "red"}, "unknown field 'colour'"),
        ({"image": "not base64 at all!"}, "not valid base64"),
        ({"image": b64(b"plain text, not an image")}, "not an image"),
        ({"image": b64(encode(Image.effect_noise((64, 64), 60))[:2000])}, "truncated"),
        ({"image": b64(png_declaring(100_000, 100_000))}, "decompression bomb"),
        ({"image": b64(png_declaring(9_000, 9_000))}, "over the limit"),
        ({"image": b64(encode(Image.new("RGB", (8, 8)), "GIF"))}, "unsupported format GIF"),
        ({"image": "A" * (23 << 20)}, "over 16 MB"),
    ],
    ids=[
        "not-object",
        "missing",
        "not-string",
        "extra-field",
        "not-base64",
        "not-image",
        "truncated",
        "bomb",
        "huge-dimensions",
        "gif",
        "too-large",
    ],
)
def test_bad_image_instances_are_refused_naming_the_instance(
    shapes: Any, instance: Any, message: str
) -> None:
    _, _, path = shapes
    loaded = engine_model.load(str(path))
    good = {"image": b64(_members(shapes_zip(), 1)[0])}
    with pytest.raises(RecordError, match=message) as caught:
        engine_model.predict(loaded, [good, instance])
    assert caught.value.instance == 1
    assert "Instance 1" in str(caught.value)


@pytest.mark.parametrize(
    ("summary", "target", "task", "expected"),
    [
        ({"task": "classification", "classes": {"a": 5, "b": 5}, "n_images": 10}, "", None,
         ("label", "binary")),
        ({"task": "classification", "classes": {"a": 5, "b": 5, "c": 2}, "n_images": 12},
         "label", None, ("label", "multiclass")),
        ({"task": "regression", "classes": {}, "n_images": 10}, "", None, ("value", "regression")),
        ({"task": "classification", "classes": {"a": 5, "b": 5}, "n_images": 10}, "value", None,
         "target is implied"),
        ({"task": "classification", "classes": {"a": 5, "b": 5}, "n_images": 10}, "",
         "regression", "filename,value"),
        ({"task": "regression", "classes": {}, "n_images": 10}, "", "binary", "not binary"),
        ({"task": "classification", "classes": {"a": 9, "b": 1}, "n_images": 10}, "", None,
         "single readable image"),
        ({"task": "classification", "classes": {"a": 4, "b": 4}, "n_images": 8}, "", None,
         "at least 10"),
    ],
)  # fmt: skip
def test_image_jobs_imply_their_target(
    summary: dict[str, Any], target: str, task: str | None, expected: Any
) -> None:
    if isinstance(expected, tuple):
        assert check_image_target(summary, target, task) == expected
    else:
        with pytest.raises(DataError, match=expected):
            check_image_target(summary, target, task)
