"""The web process never trains, so it must not pay for Keras and torch (about 400 MB
resident each web process, and seconds of start-up): what it names of the engine (tickets,
reporting's exceptions) lives in modules that import neither."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("keras", "torch", "tensorflow", "keras_tuner", "sklearn")


def test_the_web_application_loads_without_keras_or_torch(tmp_path: Path) -> None:
    probe = f"import sys, console.asgi\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "console.settings",
        "CONSOLE_EMBEDDED": "1",
        "CONSOLE_DATA_DIR": str(tmp_path),
    }
    env.pop("DATABASE_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120, check=True,
    )  # fmt: skip
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout
