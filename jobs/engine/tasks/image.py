"""Image classification and regression: a Keras Tuner search over a small CNN space.

The archive is decoded once into a uint8 array at one size chosen from the data (the median
size, rounded to a power of two and capped), grey or RGB from the images' modes; the split,
the tuner, the guard, class weights and the manifest are the core's (`split`, `tuning`).
A model answers base64 images through its `ImageInput` layer.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import math
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd
from keras import ops
from PIL import Image, ImageOps

from jobs.engine.config import SearchConfig
from jobs.engine.data import DataError
from jobs.engine.evaluation import evaluate as evaluate_metrics
from jobs.engine.io.images import (
    IMAGE_FORMATS,
    ImageError,
    ImageLimits,
    decode_image,
    open_image,
    peek_image,
    read_layout,
)
from jobs.engine.layers import RecordError, ServingInput, compiled_head
from jobs.engine.runner import predict_outputs
from jobs.engine.split import class_weights, index_labels, split_by_target
from jobs.engine.task import Ensembling, Prepared, Task

# Modes without colour; an archive of only these trains a one-channel model.
GRAYSCALE_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "F"})
# A request's image may be a phone photo, but not a bomb: refused from its header.
SERVING_LIMITS = ImageLimits(max_image_pixels=40_000_000, max_image_bytes=16 << 20)
_MAX_BASE64_CHARS = (SERVING_LIMITS.max_image_bytes + 2) // 3 * 4
_DATA_URL = re.compile(r"^data:image/[a-z0-9.+-]+;base64,", re.IGNORECASE)


@keras.saving.register_keras_serializable(package="automl")
class ImageInput(keras.layers.Layer, ServingInput):
    """Scales 0-255 pixels to 0-1; carries the size and channels images are decoded to."""

    def __init__(self, height: int, width: int, channels: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.height = int(height)
        self.width = int(width)
        self.channels = int(channels)

    def call(self, inputs: Any) -> Any:
        return ops.cast(inputs, "float32") / 255.0

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "height": self.height,
            "width": self.width,
            "channels": self.channels,
        }

    def input_schema(self) -> list[dict[str, Any]]:
        """What a prediction instance holds: one base64 image, decoded to the model's size."""
        return [
            {
                "name": "image",
                "type": "image",
                "formats": list(IMAGE_FORMATS),
                "height": self.height,
                "width": self.width,
                "channels": self.channels,
            }
        ]

    def encode_records(self, records: Sequence[Any]) -> np.ndarray:
        batch = np.empty((len(records), self.height, self.width, self.channels), dtype="uint8")
        for index, instance in enumerate(records):
            batch[index] = decode_instance(instance, index, self)
        return batch


def to_array(image: Image.Image, height: int, width: int, channels: int) -> np.ndarray:
    """One decoded image as uint8 `height x width x channels`: turned upright as its EXIF
    says, transparency laid on white, converted to grey or RGB, resized (antialiased)."""
    image = ImageOps.exif_transpose(image) or image
    if image.mode in ("RGBA", "LA", "La", "RGBa", "PA") or (
        image.mode == "P" and "transparency" in image.info
    ):
        rgba = image.convert("RGBA")
        image = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image.alpha_composite(rgba)
    elif image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        # 16-bit and float greys: Pillow's own conversion clips them; scale to 0-255 instead.
        values = np.asarray(image, dtype="float64")
        top = float(values.max()) or 1.0
        image = Image.fromarray(np.clip(values / top * 255.0, 0, 255).astype("uint8"), "L")
    image = image.convert("L" if channels == 1 else "RGB")
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    array = np.asarray(image, dtype="uint8")
    return array.reshape(height, width, channels)


def decode_instance(instance: Any, index: int, layer: ImageInput) -> np.ndarray:
    """One request instance as the model's input (raises RecordError). The image is
    `{"image": "<base64>"}`, `{"image": {"b64": "<base64>"}}` (TensorFlow Serving's form for
    binary values) or, from the Open Inference Protocol's binary BYTES tensor, raw bytes."""
    if not isinstance(instance, Mapping):
        raise RecordError(
            f'Instance {index} must be an object {{"image": "<base64 PNG, JPEG or WebP>"}}.',
            instance=index,
        )
    extra = [str(k) for k in instance if k != "image"]
    if extra:
        raise RecordError(
            f"Instance {index} has unknown field '{extra[0]}'; an image model takes only 'image'.",
            field=extra[0],
            instance=index,
        )
    data = image_bytes(instance.get("image"), index)
    try:
        with decode_image(data, f"instance {index}", SERVING_LIMITS) as image:
            return to_array(image, layer.height, layer.width, layer.channels)
    except ImageError as exc:
        # The byte and pixel limits (and Pillow's own bomb check) say "over" or "bomb".
        too_large = " over " in exc.reason or "bomb" in exc.reason
        raise RecordError(
            f"Instance {index}: the image cannot be used: {exc.reason}",
            field="image",
            instance=index,
            code="image_too_large" if too_large else "not_an_image",
        ) from exc


def _refused(index: int, message: str, code: str) -> RecordError:
    return RecordError(f"Instance {index}: {message}", field="image", instance=index, code=code)


def image_bytes(value: Any, index: int) -> bytes:
    """The image file's bytes from an instance's 'image' value, its size checked before any
    base64 is decoded (SERVING_LIMITS)."""
    limit = f"the image is over {SERVING_LIMITS.max_image_bytes >> 20} MB."
    if isinstance(value, (bytes, bytearray)):
        if len(value) > SERVING_LIMITS.max_image_bytes:
            raise _refused(index, limit, "image_too_large")
        return bytes(value)
    if isinstance(value, Mapping):
        if set(value) != {"b64"} or not isinstance(value["b64"], str):
            raise _refused(
                index,
                'field \'image\' as an object must be {"b64": "<base64 PNG, JPEG or WebP>"}.',
                "invalid_b64",
            )
        value = value["b64"]
    if not isinstance(value, str) or not value.strip():
        raise RecordError(
            f"Instance {index} needs field 'image': a base64 string of PNG, JPEG or WebP bytes"
            ' (or {"b64": "<base64>"}).',
            field="image",
            instance=index,
        )
    encoded = _DATA_URL.sub("", value.strip(), count=1)
    if len(encoded) > _MAX_BASE64_CHARS:
        raise _refused(index, limit, "image_too_large")
    try:
        return base64.b64decode(re.sub(r"\s+", "", encoded), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _refused(
            index, f"field 'image' is not valid base64 ({exc}).", "invalid_base64"
        ) from exc


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


def cnn_space(data: ImageData, task_type: str, labels: list[str], mean: float, std: float) -> Any:
    """A small CNN space over images of the data's size and channels."""

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


@dataclass(kw_only=True)
class Images(Prepared):
    data: ImageData
    target_mean: float = 0.0
    target_std: float = 1.0


def prepare(archive_path: Path, config: SearchConfig) -> Images:
    """Decode the archive once; a stratified split (plain when a class is too small)."""
    data = load_image_archive(archive_path)
    regression = config.task_type == "regression"
    if regression != (data.task == "regression"):
        raise DataError(f"The archive is for {data.task}, not {config.task_type}.")
    labels: list[str] = []
    target_mean, target_std = 0.0, 1.0
    if regression:
        y = np.asarray(data.targets, dtype="float32")
    else:
        labels, y = index_labels(pd.Series(data.targets, dtype=object))
        if len(labels) < 2:
            raise DataError("Classification needs readable images of at least two classes.")
    if len(y) < 10:
        raise DataError(f"Only {len(y)} images are readable; training needs at least 10.")
    frame = pd.DataFrame({config.target: data.targets})
    stratified = not regression
    try:
        train, val, test = split_by_target(frame, config)
    except ValueError:
        # A class too small to be spread over three splits: split without stratifying.
        stratified = False
        train, val, test = split_by_target(
            frame, dataclasses.replace(config, task_type="regression")
        )
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
    image_input = {
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
    return Images(
        train=(x_train, y_train),
        validation=(x_val, y_val),
        test=(x_test, y_test),
        splits=(train, val, test),
        labels=labels,
        class_weight=class_weights(config, y_train, len(labels)),
        manifest={"image_input": image_input},
        data=data,
        target_mean=target_mean,
        target_std=target_std,
    )


def hypermodel(images: Images, config: SearchConfig) -> Any:
    return cnn_space(
        images.data, config.task_type, images.labels, images.target_mean, images.target_std
    )


def evaluate(images: Images, config: SearchConfig, model: keras.Model) -> dict[str, Any]:
    x_test, y_test = images.test
    outputs = predict_outputs(model, x_test, batch_size=256)
    return evaluate_metrics(config.task_type, y_test, outputs, images.labels)


TASK = Task(
    name="images",
    reads="images",
    # The only task reading an archive; it checks the archive's own task against the job's.
    handles=lambda config: True,
    prepare=prepare,
    hypermodel=hypermodel,
    evaluate=evaluate,
    input_layer=ImageInput,
    ensembling=lambda images: Ensembling(input_name="image", batch_size=256),
)
