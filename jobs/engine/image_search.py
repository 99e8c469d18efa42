"""Image classification and regression: a Keras Tuner search over a small CNN space.

The archive is decoded once into a uint8 array at one size chosen from the data (the median
size, rounded to a power of two and capped), grey or RGB from the images' modes; the split,
the tuner, the guard, class weights and the manifest are the tabular search's own.
"""

from __future__ import annotations

import dataclasses
import math
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd

from jobs.engine.data import DataError
from jobs.engine.ensemble import choose
from jobs.engine.evaluation import evaluate
from jobs.engine.image_model import GRAYSCALE_MODES, ImageInput, to_array
from jobs.engine.io.images import ImageError, ImageLimits, open_image, peek_image, read_layout
from jobs.engine.model import compiled_head
from jobs.engine.search import (
    Reporter,
    SearchConfig,
    SearchResult,
    _class_weights,
    _split,
    tune,
)

MIN_SIDE = 8
MAX_SIDE_CPU = 64
MAX_SIDE_GPU = 128
# The decoded training images are held in memory once (plus one reordering copy).
MAX_ARRAY_BYTES = 1 << 30


@dataclass
class ImageData:
    x: np.ndarray  # uint8, (n, height, width, channels)
    targets: list[str | float]
    names: list[str]
    layout: str
    task: str
    height: int
    width: int
    channels: int
    size_rule: str
    unreadable: list[dict[str, str]] = field(default_factory=list)


def _pow2(value: float) -> int:
    return int(2 ** round(math.log2(max(value, 1.0))))


def choose_size(sizes: list[tuple[int, int]], max_side: int) -> tuple[int, int]:
    """Height and width: the median of each, rounded to a power of two, in [8, max_side]."""
    width = float(np.median([w for w, _ in sizes]))
    height = float(np.median([h for _, h in sizes]))
    return (
        min(max(_pow2(height), MIN_SIDE), max_side),
        min(max(_pow2(width), MIN_SIDE), max_side),
    )


def default_max_side() -> int:
    if keras.backend.backend() == "torch":
        import torch

        if torch.cuda.is_available():
            return MAX_SIDE_GPU
    return MAX_SIDE_CPU


def load_image_archive(
    path: Path,
    *,
    max_side: int | None = None,
    max_bytes: int = MAX_ARRAY_BYTES,
    limits: ImageLimits | None = None,
) -> ImageData:
    """Decode every usable image of a checked archive; unreadable ones are listed, not fatal."""
    max_side = max_side or default_max_side()
    limits = limits or ImageLimits()
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DataError(f"The dataset is not a zip archive ({exc}).") from exc
    with archive:
        layout = read_layout(archive, limits)
        unreadable = list(layout.unreadable)
        # First pass: headers only, to choose the size and channels before decoding anything.
        usable: list[tuple[str, str | float]] = []
        sizes: list[tuple[int, int]] = []
        colour = False
        for name, target in layout.items:
            try:
                width, height, mode = peek_image(archive, name, limits)
            except ImageError as exc:
                unreadable.append({"name": name, "reason": exc.reason})
                continue
            usable.append((name, target))
            sizes.append((width, height))
            colour = colour or mode not in GRAYSCALE_MODES
        if not usable:
            raise DataError(f"None of the {len(layout.items)} images could be read.")
        height, width = choose_size(sizes, max_side)
        channels = 3 if colour else 1
        rule = f"median {int(np.median([h for _, h in sizes]))}x"
        rule += f"{int(np.median([w for w, _ in sizes]))} (HxW) to a power of two in "
        rule += f"[{MIN_SIDE}, {max_side}]"
        while len(usable) * height * width * channels > max_bytes:
            if height <= MIN_SIDE and width <= MIN_SIDE:
                raise DataError(
                    f"{len(usable):,} images do not fit in memory even at {MIN_SIDE}x{MIN_SIDE}."
                )
            height, width = max(height // 2, MIN_SIDE), max(width // 2, MIN_SIDE)
            rule += "; halved to fit in memory"
        x = np.empty((len(usable), height, width, channels), dtype="uint8")
        targets: list[str | float] = []
        names: list[str] = []
        for name, target in usable:
            try:
                with open_image(archive, name, limits) as image:
                    x[len(names)] = to_array(image, height, width, channels)
            except ImageError as exc:
                unreadable.append({"name": name, "reason": exc.reason})
                continue
            names.append(name)
            targets.append(target)
    return ImageData(
        x=x[: len(names)],
        targets=targets,
        names=names,
        layout=layout.layout,
        task=layout.task,
        height=height,
        width=width,
        channels=channels,
        size_rule=rule,
        unreadable=unreadable,
    )


def _hypermodel(data: ImageData, task_type: str, labels: list[str], mean: float, std: float) -> Any:
    def build(hp: kt.HyperParameters) -> keras.Model:
        inputs = keras.Input(shape=(data.height, data.width, data.channels), name="image")
        x = ImageInput(data.height, data.width, data.channels, name="image_input")(inputs)
        if hp.Boolean("augment"):
            # Active in fit only: at inference these layers pass images through unchanged.
            x = keras.layers.RandomFlip("horizontal", name="augment_flip")(x)
            x = keras.layers.RandomRotation(0.05, fill_mode="nearest", name="augment_rotate")(x)
            x = keras.layers.RandomZoom(0.1, fill_mode="nearest", name="augment_zoom")(x)
        kernel = hp.Choice("kernel_size", [3, 5])
        batch_norm = hp.Choice("normalization", ["batch", "none"]) == "batch"
        pooling = hp.Choice("pooling", ["max", "avg"])
        for i in range(hp.Int("conv_blocks", 1, 3)):
            x = keras.layers.Conv2D(
                hp.Choice(f"filters_{i}", [16, 32, 64]),
                kernel,
                padding="same",
                use_bias=not batch_norm,
            )(x)
            if batch_norm:
                x = keras.layers.BatchNormalization()(x)
            x = keras.layers.Activation("relu")(x)
            pool = keras.layers.MaxPooling2D if pooling == "max" else keras.layers.AveragePooling2D
            x = pool(2, padding="same")(x)
        if hp.Choice("head", ["global_average", "flatten"]) == "flatten":
            x = keras.layers.Flatten()(x)
        else:
            x = keras.layers.GlobalAveragePooling2D()(x)
        x = keras.layers.Dense(hp.Choice("dense_units", [32, 64, 128]), "relu")(x)
        x = keras.layers.Dropout(hp.Float("dropout", 0.0, 0.5, step=0.1))(x)
        learning_rate = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")
        return compiled_head(inputs, x, task_type, labels, learning_rate, mean, std)

    return build


def _predict(model: keras.Model, x: np.ndarray) -> np.ndarray:
    return keras.ops.convert_to_numpy(model.predict(x, verbose=0, batch_size=256))


def run_image_search(
    archive_path: Path,
    config: SearchConfig,
    *,
    workdir: Path,
    reporter: Reporter,
    max_side: int | None = None,
) -> SearchResult:
    """Decode the archive, search CNNs, keep the best, and evaluate it once on the test split."""
    started = time.monotonic()
    keras.utils.set_random_seed(config.seed)
    data = load_image_archive(archive_path, max_side=max_side)
    regression = config.task_type == "regression"
    if regression != (data.task == "regression"):
        raise DataError(f"The archive is for {data.task}, not {config.task_type}.")
    labels: list[str] = []
    target_mean, target_std = 0.0, 1.0
    if regression:
        y = np.asarray(data.targets, dtype="float32")
    else:
        labels = sorted({str(t) for t in data.targets})
        index = {label: i for i, label in enumerate(labels)}
        y = np.asarray([index[str(t)] for t in data.targets], dtype="float32")
        if len(labels) < 2:
            raise DataError("Classification needs readable images of at least two classes.")
    if len(y) < 10:
        raise DataError(f"Only {len(y)} images are readable; training needs at least 10.")
    frame = pd.DataFrame({config.target: data.targets})
    stratified = not regression
    try:
        train, val, test = _split(frame, config)
    except ValueError:
        # A class too small to be spread over three splits: split without stratifying.
        stratified = False
        train, val, test = _split(frame, dataclasses.replace(config, task_type="regression"))
    parts = [p.index.to_numpy() for p in (train, val, test)]
    order = np.concatenate(parts)
    # One reordered copy, sliced into views: memory stays at twice the images at most, briefly.
    x, y = data.x[order], y[order]
    data.x = x
    ends = np.cumsum([len(p) for p in parts])
    x_train, x_val, x_test = x[: ends[0]], x[ends[0] : ends[1]], x[ends[1] :]
    y_train, y_val, y_test = y[: ends[0]], y[ends[0] : ends[1]], y[ends[1] :]
    if regression:
        target_mean, target_std = float(y_train.mean()), float(y_train.std() or 1.0)
    weights = _class_weights(config, y_train, len(labels))
    searched = tune(
        config,
        _hypermodel(data, config.task_type, labels, target_mean, target_std),
        (x_train, y_train),
        (x_val, y_val),
        workdir=workdir,
        reporter=reporter,
        started=started,
        class_weight=weights,
        keep=config.ensemble_size,
    )
    model, ensemble_report = choose(
        config.task_type,
        searched.models(),
        x_val,
        y_val,
        labels,
        input_name="image",
        batch_size=256,
    )
    test_metrics = evaluate(config.task_type, y_test, _predict(model, x_test), labels)
    result = searched.result(
        model=model,
        ensemble=ensemble_report,
        test_metrics=test_metrics,
        sizes=(len(train), len(val), len(test)),
        splits=(train, val, test),
        class_weights=weights,
    )
    result.manifest["image_input"] = {
        "height": data.height,
        "width": data.width,
        "channels": data.channels,
        "size_rule": data.size_rule,
        "layout": data.layout,
        "n_images": len(y),
        "n_unreadable": len(data.unreadable),
        "unreadable": data.unreadable[:20],
        "stratified": stratified,
    }
    return result
