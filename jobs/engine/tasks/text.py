"""Text classification and regression (and multi-label) from one text column.

Under the torch backend a tensor cannot hold strings, and Keras' TextVectorization layer needs
TensorFlow, so the text is turned into numbers here, in plain Python and numpy: lower-case,
punctuation replaced by spaces, split on whitespace, then each token (or n-gram) looked up in
a vocabulary. The vocabulary, the n-gram setting, the sequence length and the IDF weights live
in the model's `TextVectorizer` layer, and `vectorize` reads them back from it, so training,
evaluation and serving cannot disagree.

Input forms, chosen by the `architecture` hyperparameter:
- "bag": one count per vocabulary entry (index 0: out of vocabulary), multi-hot or TF-IDF,
  then dense layers;
- "cnn", "rnn", "transformer": token indices (0: padding, 1: out of vocabulary) over
  embeddings, padded or cut to the sequence length.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd
from keras import ops

from jobs.engine.config import SearchConfig
from jobs.engine.layers import RecordError, ServingInput, find_layer, refuse_binary
from jobs.engine.results import gpu_names
from jobs.engine.runner import Targets, add_head, evaluate_outputs, prepare_targets
from jobs.engine.split import class_weights, split_frame
from jobs.engine.task import Prepared, Task

_PUNCTUATION = re.compile(r"[^\w\s]+", re.UNICODE)
MAX_SEQUENCE_LENGTH = 256
MIN_SEQUENCE_LENGTH = 8
MAX_TEXT_CHARS = 100_000


def standardize(text: str) -> str:
    return _PUNCTUATION.sub(" ", text.lower())


def tokenize(text: str) -> list[str]:
    return standardize(text).split()


def ngram_terms(tokens: Sequence[str], ngrams: int) -> list[str]:
    """Unigrams, then (for ngrams=2) the bigrams written as 'a b'."""
    terms = list(tokens)
    for n in range(2, ngrams + 1):
        terms += [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return terms


@keras.saving.register_keras_serializable(package="automl")
class TextVectorizer(keras.layers.Layer, ServingInput):
    """Carries the text column's name and vocabulary; applies IDF weights to bag counts.

    Its input is what `vectorize` makes from raw strings with this layer's own config.
    """

    def __init__(
        self,
        column: str,
        vocabulary: Sequence[str],
        mode: str = "sequence",
        ngrams: int = 1,
        sequence_length: int = 64,
        idf: Sequence[float] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.column = column
        self.vocabulary = [str(v) for v in vocabulary]
        self.mode = mode
        self.ngrams = int(ngrams)
        self.sequence_length = int(sequence_length)
        self.idf = [float(v) for v in idf] if idf is not None else None
        self._lookup = {term: i for i, term in enumerate(self.vocabulary)}

    @property
    def width(self) -> int:
        """Bag forms: one slot per entry plus the out-of-vocabulary slot 0."""
        return len(self.vocabulary) + 1

    def call(self, inputs: Any) -> Any:
        if self.mode == "tf_idf" and self.idf is not None:
            return inputs * ops.convert_to_tensor(np.asarray(self.idf, dtype="float32"))
        return inputs

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "column": self.column,
            "vocabulary": self.vocabulary,
            "mode": self.mode,
            "ngrams": self.ngrams,
            "sequence_length": self.sequence_length,
            "idf": self.idf,
        }

    def input_schema(self) -> list[dict[str, Any]]:
        return [{"name": self.column, "type": "text"}]

    def encode_records(self, records: Sequence[Any]) -> np.ndarray:
        return encode_text_records(self, records)

    def vectorize(self, texts: Sequence[str]) -> np.ndarray:
        """Raw strings to this layer's input: index sequences or bag counts."""
        if self.mode == "sequence":
            out = np.zeros((len(texts), self.sequence_length), dtype="int32")
            for row, text in enumerate(texts):
                # 0 pads, 1 is out of vocabulary, entries start at 2.
                ids = [self._lookup.get(t, -1) + 2 for t in tokenize(text)][: self.sequence_length]
                out[row, : len(ids)] = ids
            return out
        bag = np.zeros((len(texts), self.width), dtype="float32")
        for row, text in enumerate(texts):
            for term in ngram_terms(tokenize(text), self.ngrams):
                bag[row, self._lookup.get(term, -1) + 1] += 1.0
        return np.minimum(bag, 1.0) if self.mode == "multi_hot" else bag


@keras.saving.register_keras_serializable(package="automl")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learnt vector per position to a (batch, length, dim) sequence."""

    def __init__(self, length: int, dim: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.length = int(length)
        self.dim = int(dim)
        self.positions = self.add_weight(
            shape=(self.length, self.dim), initializer="glorot_uniform", name="positions"
        )

    def call(self, inputs: Any) -> Any:
        return inputs + self.positions[None, :, :]

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "length": self.length, "dim": self.dim}


class TextStatistics:
    """Term and document counts of the training texts, for vocabularies of any size."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.n_documents = len(texts)
        self.counts: dict[int, Counter[str]] = {1: Counter(), 2: Counter()}
        self.documents: Counter[str] = Counter()
        lengths = []
        for text in texts:
            tokens = tokenize(text)
            lengths.append(len(tokens))
            self.counts[1].update(tokens)
            bigrams = ngram_terms(tokens, 2)[len(tokens) :]
            self.counts[2].update(bigrams)
            self.documents.update(set(tokens) | set(bigrams))
        p95 = float(np.percentile(lengths, 95)) if lengths else 0.0
        self.sequence_length = int(
            min(MAX_SEQUENCE_LENGTH, max(MIN_SEQUENCE_LENGTH, math.ceil(p95)))
        )

    def vocabulary(self, max_tokens: int, ngrams: int) -> list[str]:
        counts = Counter(self.counts[1])
        if ngrams >= 2:
            counts.update(self.counts[2])
        # Most frequent first, ties alphabetical, so a rerun makes the same vocabulary.
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return [term for term, _ in ranked[:max_tokens]]

    def idf(self, vocabulary: Sequence[str]) -> list[float]:
        weights = [math.log(1 + self.n_documents / (1 + self.documents[t])) for t in vocabulary]
        out_of_vocabulary = math.log(1 + self.n_documents)
        return [out_of_vocabulary, *weights]


def _text_body(hp: kt.HyperParameters, stats: TextStatistics, column: str) -> tuple[Any, Any]:
    # Recurrent layers run one step at a time: minutes an epoch on a CPU worker for a model
    # rarely better than the others, so they are drawn only where a GPU trains.
    kinds = ["bag", "cnn", "transformer"] + (["rnn"] if gpu_names() else [])
    architecture = hp.Choice("architecture", kinds)
    max_tokens = hp.Choice("max_tokens", [5000, 20000])
    if architecture == "bag":
        with hp.conditional_scope("architecture", ["bag"]):
            ngrams = hp.Choice("ngrams", [1, 2])
            output = hp.Choice("bag_output", ["multi_hot", "tf_idf"])
            units = hp.Choice("bag_units", [32, 64, 128])
            dropout = hp.Float("bag_dropout", 0.0, 0.5, step=0.1)
        vocabulary = stats.vocabulary(max_tokens, ngrams)
        vectorizer = TextVectorizer(
            column,
            vocabulary,
            mode=output,
            ngrams=ngrams,
            idf=stats.idf(vocabulary) if output == "tf_idf" else None,
            name="text_vectorizer",
        )
        inputs = keras.Input(shape=(vectorizer.width,), name="text_bag")
        x = vectorizer(inputs)
        x = keras.layers.Dropout(dropout)(x)
        x = keras.layers.Dense(units, activation="relu")(x)
        return inputs, keras.layers.Dropout(dropout)(x)
    length = stats.sequence_length
    vectorizer = TextVectorizer(
        column,
        stats.vocabulary(max_tokens, 1),
        mode="sequence",
        sequence_length=length,
        name="text_vectorizer",
    )
    inputs = keras.Input(shape=(length,), dtype="int32", name="text_tokens")
    tokens = vectorizer(inputs)
    dim = hp.Choice("embedding_dim", [32, 64, 128])
    dropout = hp.Float("dropout", 0.0, 0.5, step=0.1)
    vocabulary_size = len(vectorizer.vocabulary) + 2
    if architecture == "cnn":
        with hp.conditional_scope("architecture", ["cnn"]):
            filters = hp.Choice("filters", [32, 64, 128])
            kernel = hp.Choice("kernel_size", [3, 5])
        x = keras.layers.Embedding(vocabulary_size, dim)(tokens)
        x = keras.layers.Conv1D(filters, kernel, padding="same", activation="relu")(x)
        x = keras.layers.GlobalMaxPooling1D()(x)
    elif architecture == "rnn":
        with hp.conditional_scope("architecture", ["rnn"]):
            cell = hp.Choice("rnn_cell", ["gru", "lstm"])
            units = hp.Choice("rnn_units", [16, 32, 64])
        x = keras.layers.Embedding(vocabulary_size, dim, mask_zero=True)(tokens)
        layer = keras.layers.GRU(units) if cell == "gru" else keras.layers.LSTM(units)
        x = keras.layers.Bidirectional(layer)(x)
    else:
        with hp.conditional_scope("architecture", ["transformer"]):
            blocks = hp.Int("blocks", 1, 2)
            heads = hp.Choice("heads", [2, 4])
            ff = hp.Choice("ff_dim", [32, 64, 128])
        x = keras.layers.Embedding(vocabulary_size, dim)(tokens)
        x = PositionEmbedding(length, dim)(x)
        for _ in range(blocks):
            attended = keras.layers.MultiHeadAttention(heads, key_dim=dim // heads)(x, x)
            x = keras.layers.LayerNormalization()(x + keras.layers.Dropout(dropout)(attended))
            hidden = keras.layers.Dense(ff, activation="relu")(x)
            x = keras.layers.LayerNormalization()(x + keras.layers.Dense(dim)(hidden))
        x = keras.layers.GlobalAveragePooling1D()(x)
    return inputs, keras.layers.Dropout(dropout)(x)


def text_vectorizer(model: keras.Model) -> TextVectorizer | None:
    found = find_layer(model, TextVectorizer)
    return found if isinstance(found, TextVectorizer) else None


def vectorize(model: keras.Model, texts: Sequence[str]) -> np.ndarray:
    layer = text_vectorizer(model)
    if layer is None:
        raise ValueError("The model has no TextVectorizer layer.")
    return layer.vectorize(texts)


class TextHyperModel(kt.HyperModel):
    """Builds a text model per trial, and vectorises the raw strings with that model's layer."""

    def __init__(self, stats: TextStatistics, column: str, targets: Targets) -> None:
        super().__init__()
        self.stats = stats
        self.column = column
        self.targets = targets

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        inputs, x = _text_body(hp, self.stats, self.column)
        learning_rate = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")
        return add_head(inputs, x, self.targets, learning_rate)

    def fit(self, hp: kt.HyperParameters, model: keras.Model, x: Any, y: Any, **kwargs: Any) -> Any:
        x_val, y_val = kwargs.pop("validation_data")
        return model.fit(
            vectorize(model, list(x)), y, validation_data=(vectorize(model, list(x_val)), y_val),
            **kwargs,
        )  # fmt: skip


def text_values(series: pd.Series) -> np.ndarray:
    """A missing text is the empty text."""
    return np.asarray(["" if pd.isna(v) else str(v) for v in series], dtype=object)


@dataclass(kw_only=True)
class Texts(Prepared):
    """Raw texts and their targets; each trial's model vectorises them with its own layer."""

    targets: Targets
    stats: TextStatistics


def prepare(frame: pd.DataFrame, config: SearchConfig) -> Texts:
    if config.task_type == "multilabel":
        frame = frame.reset_index(drop=True)
        stratify = None
    else:
        frame = frame[frame[config.target].notna()].reset_index(drop=True)
        classify = config.task_type != "regression"
        stratify = frame[config.target].astype(str) if classify else None
    train, val, test = split_frame(frame, config, stratify=stratify)
    targets = prepare_targets(frame, config, train.index)
    texts = text_values(frame[config.text_column])
    stats = TextStatistics(list(texts[train.index.to_numpy()]))
    weights = (
        class_weights(config, targets.of(train), len(targets.labels))
        if config.task_type in ("binary", "multiclass")
        else None
    )

    def part(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return texts[rows.index.to_numpy()], targets.of(rows)

    return Texts(
        train=part(train),
        validation=part(val),
        test=part(test),
        splits=(train, val, test),
        class_weight=weights,
        targets=targets,
        stats=stats,
    )


def hypermodel(data: Texts, config: SearchConfig) -> TextHyperModel:
    """Bag-of-n-grams, CNN, bidirectional RNN and Transformer text models."""
    return TextHyperModel(data.stats, config.text_column, data.targets)


def evaluate(data: Texts, config: SearchConfig, model: keras.Model) -> dict[str, Any]:
    texts, y_test = data.test
    outputs = model.predict(vectorize(model, list(texts)), verbose=0)
    return evaluate_outputs(data.targets, y_test, np.asarray(keras.ops.convert_to_numpy(outputs)))


def encode_text_records(layer: TextVectorizer, records: Sequence[Any]) -> np.ndarray:
    """Validate JSON instances `{"<text column>": "..."}` and vectorise them (RecordError)."""
    texts = []
    for row, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise RecordError(
                f'Instance {row} must be an object {{"{layer.column}": "some text"}}.',
                instance=row,
            )
        if layer.column not in record:
            raise RecordError(
                f"Instance {row} is missing field '{layer.column}'.",
                field=layer.column,
                instance=row,
            )
        extra = [k for k in record if k != layer.column]
        if extra:
            raise RecordError(
                f"Instance {row} has unknown field '{extra[0]}'; expected only '{layer.column}'.",
                field=str(extra[0]),
                instance=row,
            )
        value = record[layer.column]
        if not isinstance(value, str):
            refuse_binary(value, layer.column, row, "text")
            raise RecordError(
                f"Field '{layer.column}' must be a string, got {value!r}.",
                field=layer.column,
                instance=row,
            )
        if len(value) > MAX_TEXT_CHARS:
            raise RecordError(
                f"Field '{layer.column}' is longer than {MAX_TEXT_CHARS} characters.",
                field=layer.column,
                instance=row,
            )
        texts.append(value)
    return layer.vectorize(texts)


TASK = Task(
    name="text",
    reads="table",
    handles=lambda config: bool(config.text_column) and config.task_type != "forecasting",
    prepare=prepare,
    hypermodel=hypermodel,
    evaluate=evaluate,
    input_layer=TextVectorizer,
)
