"""What every saved model shares: its output layers and head, and how a prediction reads them.

Core: imports no task. A model's input layer is a `ServingInput` (the tabular encoder, the
text vectoriser, the forecasting window, the image input): it states the model's input schema
and turns request instances into the model's input, so one `predict` serves every model.
The layer class names and their registered names ("automl>...") are what saved files hold:
they must not change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops


class RecordError(ValueError):
    """An instance sent for prediction does not match the model's input schema.

    `code` is machine-readable for the refusals a client may want to tell apart (a bad image,
    a binary value for a column that takes none); "invalid" otherwise."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        instance: int | None = None,
        code: str = "invalid",
    ):
        super().__init__(message)
        self.field = field
        self.instance = instance
        self.code = code


def refuse_binary(value: Any, field: str, instance: int, takes: str) -> None:
    """A 400 for binary data (`{"b64": ...}`, or a binary BYTES element of the Open Inference
    Protocol) sent to a column that takes a number or text; called on refusal paths only."""
    if isinstance(value, (bytes, bytearray)) or (isinstance(value, dict) and "b64" in value):
        raise RecordError(
            f"Field '{field}' takes {takes}; {{\"b64\": ...}} is for image inputs only.",
            field=field,
            instance=instance,
            code="binary_not_accepted",
        )


class ServingInput:
    """A model's first layer, which knows what a request instance holds.

    Mixed into the Keras layer of each input kind (after keras.layers.Layer); it adds no
    configuration, so saved files are unchanged.
    """

    def input_schema(self) -> list[dict[str, Any]]:
        """What a prediction instance holds, as the model's version records it."""
        raise NotImplementedError

    def encode_records(self, records: Sequence[Any]) -> np.ndarray:
        """Validate JSON instances (RecordError) and turn them into the model's input."""
        raise NotImplementedError

    def record_warnings(self, records: Sequence[Any], encoded: np.ndarray) -> list[dict[str, Any]]:
        """What the encoding of accepted instances quietly changed (a category never seen in
        training read as the unknown one), as `{"instance", "field", "code", "value"}`; read
        from the encoded rows, so it costs nothing when nothing was changed."""
        return []


@keras.saving.register_keras_serializable(package="automl")
class TargetScale(keras.layers.Layer):
    """Maps the network's standardised output back to the target's own units.

    transform "log": the network learned log1p(target), for skewed positive targets; the file
    still answers in the target's units. expm1 of a mean log is a median, below the mean a
    squared error asks for (by exp(sigma^2 / 2) for log-normal errors: about a fifth on
    wages), so with `smearing` a prediction is scaled by Duan's (1983) smearing factor, the
    mean of exp(log residual) on training rows (`Smearing` keeps it current). It is applied
    outside training only, so the loss, in log space, never sees it.
    """

    def __init__(
        self,
        mean: float,
        std: float,
        transform: str = "none",
        smearing: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.mean = float(mean)
        self.std = float(std)
        self.transform = transform
        # Files saved before the factor existed have no weight for it.
        self.smearing = bool(smearing) and transform == "log"
        self.smear: Any = None

    def build(self, input_shape: Any) -> None:
        if self.smearing:
            self.smear = self.add_weight(
                shape=(), initializer="ones", trainable=False, name="smear"
            )
        self.built = True

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        value = inputs * self.std + self.mean
        if self.transform == "log":
            value = ops.clip(value, -30.0, 30.0)
            if self.smear is not None and not training:
                return ops.exp(value) * self.smear - 1.0
            return ops.expm1(value)
        return value

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "mean": self.mean,
            "std": self.std,
            "transform": self.transform,
            "smearing": self.smearing,
        }


class Smearing(keras.callbacks.Callback):
    """Keeps a log-scale target's smearing factor (TargetScale) current while a model trains:
    before each validation, so the validation error a trial is chosen by is the corrected
    one, and when training ends (a refit has no validation). From up to SMEARING_ROWS training
    rows; a model without the factor is left alone."""

    def __init__(self, x: Any, y: Any) -> None:
        super().__init__()
        self._data = (x, y)
        self._sample: tuple[np.ndarray, np.ndarray] | None = None

    def _rows(self) -> tuple[np.ndarray, np.ndarray]:
        # Drawn on first use: most models (classes, images, text) never need them.
        if self._sample is None:
            x, y = self._data
            rows = np.arange(len(y))
            if len(rows) > SMEARING_ROWS:
                rows = np.random.default_rng(0).choice(rows, SMEARING_ROWS, replace=False)
            self._sample = np.asarray(x)[rows], np.asarray(y, "float64").reshape(-1)[rows]
        return self._sample

    def __deepcopy__(self, memo: dict[int, Any]) -> Smearing:
        return self  # Keras Tuner copies callbacks per trial; the rows need no copy

    def _update(self) -> None:
        layers = [
            layer
            for layer in self.model.layers
            if isinstance(layer, TargetScale) and layer.smear is not None
        ]
        if len(layers) != 1:
            return
        x, y = self._rows()
        if not len(y):
            return
        layer = layers[0]
        predicted = ops.convert_to_numpy(self.model(x, training=False)).astype("float64")
        ratio = (1.0 + y) / np.maximum(1.0 + predicted.reshape(-1), 1e-6)
        # ratio = exp(residual) / the current factor, so this is the mean of exp(residual);
        # bounded so one wild row cannot scale every answer.
        factor = float(ops.convert_to_numpy(layer.smear)) * float(np.mean(ratio))
        if np.isfinite(factor):
            layer.smear.assign(float(np.clip(factor, 0.5, 2.0)))

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._update()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._update()


# Training rows the smearing factor is estimated from: enough for a mean of exp(residual) to
# settle, few enough to cost a fraction of an epoch.
SMEARING_ROWS = 4096


@keras.saving.register_keras_serializable(package="automl")
class TransformedMSE(keras.losses.Loss):
    """Squared error in the standardised, transformed space the network learns in.

    The model answers in the target's units (TargetScale); learning in the transformed space
    keeps the gradients of a skewed target in proportion.
    """

    def __init__(
        self, mean: float = 0.0, std: float = 1.0, transform: str = "none", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.mean, self.std, self.transform = float(mean), float(std), transform

    def _forward(self, y: Any) -> Any:
        if self.transform == "log":
            y = ops.log1p(ops.maximum(y, -0.999999))
        return (y - self.mean) / self.std

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_true = ops.reshape(ops.cast(y_true, y_pred.dtype), ops.shape(y_pred))
        return ops.mean(ops.square(self._forward(y_true) - self._forward(y_pred)), axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std, "transform": self.transform}


@keras.saving.register_keras_serializable(package="automl")
class ClassLabels(keras.layers.Layer):
    """Passes probabilities through unchanged; carries the class names in the saved file."""

    def __init__(self, labels: Sequence[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.labels = [str(label) for label in labels]

    def call(self, inputs: Any) -> Any:
        return inputs

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "labels": self.labels}


def find_layer(model: keras.Model, kind: type) -> Any:
    """The first layer of a kind, also inside nested models (an ensemble's members)."""
    for layer in model.layers:
        if isinstance(layer, kind):
            return layer
        if isinstance(layer, keras.Model):
            found = find_layer(layer, kind)
            if found is not None:
                return found
    return None


def class_labels(model: keras.Model) -> list[str] | None:
    layer = find_layer(model, ClassLabels)
    return None if layer is None else list(layer.labels)


def decode_outputs(outputs: np.ndarray, labels: Sequence[str] | None) -> list[Any]:
    if labels is None:
        return [float(v) for v in np.asarray(outputs).reshape(-1)]
    result = []
    for row in np.asarray(outputs):
        probabilities = {label: float(p) for label, p in zip(labels, row, strict=True)}
        result.append({"label": labels[int(np.argmax(row))], "probabilities": probabilities})
    return result


def compiled_head(
    inputs: Any,
    x: Any,
    task_type: str,
    labels: Sequence[str],
    learning_rate: float,
    mean: float = 0.0,
    std: float = 1.0,
    *,
    weight_decay: float = 0.0,
    target_transform: str = "none",
) -> keras.Model:
    """The output layer, loss and metrics for classes or a value, on any body; compiled.

    Regression learns a standardised (optionally log1p) target and the file answers in the
    user's units, with `mse` in those units as a metric to compare transforms by;
    classification answers through ClassLabels, which the saved model carries.
    """
    optimizer = (
        keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay)
        if weight_decay
        else keras.optimizers.Adam(learning_rate)
    )
    if task_type == "regression":
        x = keras.layers.Dense(1)(x)
        outputs = TargetScale(mean, std, target_transform, smearing=True, name="target_scale")(x)
        model = keras.Model(inputs, outputs)
        model.compile(
            optimizer,
            loss=TransformedMSE(mean, std, target_transform),
            metrics=[keras.metrics.MeanSquaredError(name="mse"), "mae"],
        )
        return model
    x = keras.layers.Dense(len(labels), activation="softmax")(x)
    model = keras.Model(inputs, ClassLabels(list(labels), name="class_labels")(x))
    model.compile(optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


THRESHOLD = 0.5


@keras.saving.register_keras_serializable(package="automl")
class MultiLabels(ClassLabels):
    """Passes per-label probabilities through; carries the labels, delimiter and threshold."""

    def __init__(
        self,
        labels: Sequence[str],
        delimiter: str = ";",
        threshold: float = THRESHOLD,
        **kwargs: Any,
    ) -> None:
        super().__init__(labels, **kwargs)
        self.delimiter = delimiter
        self.threshold = float(threshold)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "delimiter": self.delimiter, "threshold": self.threshold}

    def decode(self, outputs: np.ndarray) -> list[dict[str, Any]]:
        """`{"labels": [those at or over the threshold], "probabilities": {label: p}}`."""
        return decode_multilabel(outputs, self)


def decode_multilabel(outputs: np.ndarray, layer: MultiLabels) -> list[dict[str, Any]]:
    result = []
    for row in np.asarray(outputs):
        probabilities = {label: float(p) for label, p in zip(layer.labels, row, strict=True)}
        chosen = [label for label, p in probabilities.items() if p >= layer.threshold]
        result.append({"labels": chosen, "probabilities": probabilities})
    return result


def serving_input(model: keras.Model) -> ServingInput:
    layer = find_layer(model, ServingInput)
    if layer is None:
        raise ValueError("The model has no input layer of the console's; it was not made by it.")
    return layer


def input_schema(model: keras.Model) -> list[dict[str, Any]]:
    """What a prediction instance of this model holds."""
    return list(serving_input(model).input_schema())


def predict(model: keras.Model, instances: Sequence[Any]) -> list[Any]:
    """What the prediction endpoint answers for these instances, for any kind of model
    (raises RecordError naming the instance and field that does not fit its schema)."""
    return Served(model).predict(instances)


class Served:
    """A loaded model split into the three steps of a prediction, so that a server can
    validate and encode each request on its own, run many requests' rows as one batch, and
    decode the batch's outputs: the same steps `predict` takes, so answers are identical.

    The layers each step needs are found once here, not per call.
    """

    def __init__(self, model: keras.Model) -> None:
        self.model = model
        self.input_layer = serving_input(model)
        self.labels = class_labels(model)
        # The output layer decodes when it can (multi-label), else the input layer (a
        # forecast's window answers the next values), else classes or values.
        self._decoder = None
        self._compiled: Any = None
        for decoder in (find_layer(model, ClassLabels), self.input_layer):
            decode = getattr(decoder, "decode", None)
            if decode is not None:
                self._decoder = decode
                break

    def encode(self, instances: Sequence[Any]) -> np.ndarray:
        """Validate JSON instances (RecordError) and turn them into the model's input."""
        return self.input_layer.encode_records(instances)

    def warnings(self, instances: Sequence[Any], features: np.ndarray) -> list[dict[str, Any]]:
        """What `encode` read differently from what was sent (`ServingInput.record_warnings`)."""
        return self.input_layer.record_warnings(instances, features)

    def infer(self, features: np.ndarray) -> np.ndarray:
        """The model's outputs for a batch of encoded rows: the compiled graph when `compile`
        made one, else a direct call in inference mode (without `predict`'s per-call data
        adapter, callbacks and step function)."""
        if self._compiled is not None:
            import torch

            with torch.inference_mode():
                return np.asarray(self._compiled(torch.from_numpy(features)).numpy())
        return self._eager(features)

    def _eager(self, features: np.ndarray) -> np.ndarray:
        if keras.backend.backend() == "torch":
            import torch

            with torch.inference_mode():
                outputs = self.model(features, training=False)
                return np.asarray(outputs.detach().cpu().numpy())
        return np.asarray(keras.ops.convert_to_numpy(self.model(features, training=False)))

    def example_inputs(self, rows: int, fill: float = 0.0) -> np.ndarray:
        """A batch of the model's input shape and type, every value `fill`."""
        spec = self.model.inputs[0]
        shape = tuple(int(d) for d in spec.shape[1:])
        return np.full((rows, *shape), fill, dtype=str(spec.dtype))

    def compile(self) -> bool:
        """Trace the model's torch graph once, so that a call runs torch's ops without Keras'
        per-layer Python (measured here: 0.16 ms for a row instead of 2.6 ms). Kept only if
        it answers exactly as the model does on batches of several sizes and values; a model
        whose graph depends on its data keeps the direct call."""
        if keras.backend.backend() != "torch":
            return False
        import warnings

        import torch

        try:
            with torch.inference_mode(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the tracer's notes on constants
                example = torch.from_numpy(self.example_inputs(8))
                traced = torch.jit.trace(self.model.eval(), (example,), check_trace=False)
                traced = torch.jit.freeze(traced)
                for rows, fill in ((1, 0.0), (3, 1.0), (64, 0.0), (17, 1.0)):
                    batch = self.example_inputs(rows, fill)
                    got = traced(torch.from_numpy(batch)).numpy()
                    if not np.array_equal(got, self._eager(batch), equal_nan=True):
                        return False
        except Exception:
            return False
        self._compiled = traced
        return True

    def decode(self, outputs: np.ndarray) -> list[Any]:
        if self._decoder is not None:
            return list(self._decoder(outputs))
        return decode_outputs(outputs, self.labels)

    def predict(self, instances: Sequence[Any]) -> list[Any]:
        features = self.encode(instances)
        if not len(features):
            return []
        return self.decode(self.infer(features))
