"""Model files are loaded with Keras' safe mode, and only .keras files are loaded at all."""

from __future__ import annotations

from pathlib import Path

import keras
import pytest

import jobs.engine  # noqa: F401  (selects the backend before Keras loads)
from jobs.engine import model as engine_model


def test_a_lambda_layer_that_runs_code_is_refused(tmp_path: Path) -> None:
    # given a .keras file whose Lambda layer would write a marker file when run
    marker = tmp_path / "pwned"
    inputs = keras.Input(shape=(1,))
    # The path is a literal inside the function, as an attacker would write it.
    payload = eval(f"lambda x: (open({str(marker)!r}, 'w').write('x'), x)[1]")  # noqa: S307
    outputs = keras.layers.Lambda(payload)(inputs)
    path = tmp_path / "evil.keras"
    keras.Model(inputs, outputs).save(path)
    marker.unlink()  # building the model ran the code once, here, on purpose

    # when the console loads it, then it is refused and the code never ran
    with pytest.raises(ValueError, match=r"(?i)lambda|unsafe|safe_mode"):
        engine_model.load(str(path))
    assert not marker.exists()


@pytest.mark.parametrize("name", ["model.h5", "model.pkl", "saved_model.pb", "model.keras.h5"])
def test_other_formats_are_refused_before_any_load(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"not even opened")
    with pytest.raises(ValueError, match=r"Only \.keras"):
        engine_model.load(str(path))
