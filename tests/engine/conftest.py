from __future__ import annotations

import numpy as np
import pytest

from tests.engine.profiling import RNG_SEED


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(RNG_SEED)
