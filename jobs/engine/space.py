"""A task's search space as a Keras Tuner hypermodel: a build function, with the batch size
searched as well. Core: imports no task."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import keras_tuner as kt


class SearchSpace(kt.HyperModel):
    """A hypermodel from a build function, with the batch size searched as well.

    portfolio: the first trials' values, as changes to the defaults (see _with_portfolio).
    """

    def __init__(
        self,
        build: Any,
        *,
        batch_sizes: Sequence[int] = (),
        portfolio: Sequence[dict[str, Any]] = (),
    ) -> None:
        super().__init__()
        self._build = build
        self.batch_sizes = list(batch_sizes)
        self.portfolio = list(portfolio)

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        return self._build(hp)

    def fit(self, hp: kt.HyperParameters, model: keras.Model, *args: Any, **kwargs: Any) -> Any:
        if self.batch_sizes:
            default = self.batch_sizes[len(self.batch_sizes) // 2]
            kwargs["batch_size"] = hp.Choice("batch_size", self.batch_sizes, default=default)
        return model.fit(*args, **kwargs)


def batch_sizes(n_train: int) -> list[int]:
    """The three largest powers of two that still give about ten steps an epoch."""
    fits = [size for size in (16, 32, 64, 128, 256, 512, 1024) if n_train / size >= 10]
    return (fits or [16])[-3:]
