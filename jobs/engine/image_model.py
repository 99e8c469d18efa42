"""Image models: the input contract lives in the saved file; requests are decoded defensively.

The saved model takes a batch of `height x width x channels` pixels in 0-255 (the size and
channels chosen from the training data). `ImageInput`, its first layer, scales them to 0-1 and
carries that size and channel count, so training, evaluation and serving decode every image
with the same `to_array` at the size the model itself states.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np
from keras import ops
from PIL import Image, ImageOps

from jobs.engine.io.images import IMAGE_FORMATS, ImageError, ImageLimits, decode_image
from jobs.engine.model import RecordError, _find, class_labels, decode_outputs

# Modes without colour; an archive of only these trains a one-channel model.
GRAYSCALE_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "F"})
# A request's image may be a phone photo, but not a bomb: refused from its header.
SERVING_LIMITS = ImageLimits(max_image_pixels=40_000_000, max_image_bytes=16 << 20)
_MAX_BASE64_CHARS = (SERVING_LIMITS.max_image_bytes + 2) // 3 * 4
_DATA_URL = re.compile(r"^data:image/[a-z0-9.+-]+;base64,", re.IGNORECASE)


@keras.saving.register_keras_serializable(package="automl")
class ImageInput(keras.layers.Layer):
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


def image_input(model: keras.Model) -> ImageInput | None:
    found: ImageInput | None = _find(model, ImageInput)
    return found


def is_image_model(model: keras.Model) -> bool:
    return image_input(model) is not None


def input_schema(model: keras.Model) -> list[dict[str, Any]]:
    """What a prediction instance holds: one base64 image, decoded to the model's size."""
    layer = image_input(model)
    if layer is None:
        raise ValueError("The model has no ImageInput layer; it is not an image model.")
    return [
        {
            "name": "image",
            "type": "image",
            "formats": list(IMAGE_FORMATS),
            "height": layer.height,
            "width": layer.width,
            "channels": layer.channels,
        }
    ]


def decode_instance(instance: Any, index: int, layer: ImageInput) -> np.ndarray:
    """One request instance `{"image": "<base64>"}` as the model's input (raises RecordError)."""
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
    encoded = instance.get("image")
    if not isinstance(encoded, str) or not encoded.strip():
        raise RecordError(
            f"Instance {index} needs field 'image': a base64 string of PNG, JPEG or WebP bytes.",
            field="image",
            instance=index,
        )
    encoded = _DATA_URL.sub("", encoded.strip(), count=1)
    if len(encoded) > _MAX_BASE64_CHARS:
        raise RecordError(
            f"Instance {index}: the image is over {SERVING_LIMITS.max_image_bytes >> 20} MB.",
            field="image",
            instance=index,
        )
    try:
        data = base64.b64decode(re.sub(r"\s+", "", encoded), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RecordError(
            f"Instance {index}: field 'image' is not valid base64 ({exc}).",
            field="image",
            instance=index,
        ) from exc
    try:
        with decode_image(data, f"instance {index}", SERVING_LIMITS) as image:
            return to_array(image, layer.height, layer.width, layer.channels)
    except ImageError as exc:
        raise RecordError(
            f"Instance {index}: the image cannot be used: {exc.reason}",
            field="image",
            instance=index,
        ) from exc


def predict_images(model: keras.Model, instances: Sequence[Any]) -> list[Any]:
    """What the prediction endpoint answers for image instances (raises RecordError)."""
    layer = image_input(model)
    if layer is None:
        raise ValueError("The model has no ImageInput layer; it is not an image model.")
    shape = (len(instances), layer.height, layer.width, layer.channels)
    batch = np.empty(shape, dtype="uint8")
    for index, instance in enumerate(instances):
        batch[index] = decode_instance(instance, index, layer)
    if not len(batch):
        return []
    outputs = keras.ops.convert_to_numpy(model.predict_on_batch(batch))
    return decode_outputs(outputs, class_labels(model))
