"""Model files are loaded with Keras' safe mode, and only .keras files are loaded at all."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import keras
import pytest

import jobs.engine  # noqa: F401  (selects the backend before Keras loads)
from jobs.engine import model as engine_model

ROOT = Path(__file__).resolve().parents[2]


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


def test_keras_is_pinned_to_a_release_with_the_known_safe_mode_bypasses_fixed() -> None:
    # 3.15.1 (with 3.12.4) is the first release with every fix the security checklist lists:
    # Lambda code on load, module names in config.json, config that turns unsafe loading on,
    # .h5 ignoring safe_mode, HDF5 external links and shape bombs, TFSMLayer, and the archive
    # path checks; its notes list the last of those, around pickling.
    pinned = re.search(r'"keras==([0-9.]+)"', (ROOT / "pyproject.toml").read_text())
    assert pinned is not None, "keras must be pinned to one release in pyproject.toml"
    assert importlib.metadata.version("keras") == pinned.group(1)
    assert tuple(int(part) for part in pinned.group(1).split(".")) >= (3, 15, 1)
