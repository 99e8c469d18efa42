"""The predictor process loads every kind of model the engine saves, not only the kinds it
happened to import: a fresh process that imports the predictor app knows all their layers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import keras

import jobs.engine.model  # noqa: F401  (the task registry: every task registers its layers)

ROOT = Path(__file__).resolve().parent.parent.parent

_LIST = """
import django
django.setup()
import keras
import models_registry.predictor.app
print(" ".join(sorted(n for n in keras.saving.get_custom_objects() if n.startswith("automl>"))))
"""


def test_a_fresh_predictor_process_knows_every_engine_layer() -> None:
    engine = sorted(n for n in keras.saving.get_custom_objects() if n.startswith("automl>"))
    assert "automl>TextVectorizer" in engine
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "console.predictor_settings"}
    env.setdefault("CONSOLE_EMBEDDED", "1")
    out = subprocess.run(
        [sys.executable, "-c", _LIST], cwd=ROOT, env=env, capture_output=True, text=True,
        check=False, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == engine
