"""Production settings (neither DEBUG nor the embedded default) are safe as they come."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEV_SECRET = "insecure-embedded-default-key-do-not-use-in-production"


def _check_deploy(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("CONSOLE_EMBEDDED", "DEBUG")}
    clean.pop("SECURE_COOKIES", None)
    clean.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_production_defaults() -> None:
    done = _check_deploy(SECRET_KEY=secrets.token_urlsafe(50))
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize("key", [DEV_SECRET, "short-key", "a" * 60])
def test_production_refuses_a_published_or_weak_secret_key(key: str) -> None:
    done = _check_deploy(SECRET_KEY=key)
    assert done.returncode != 0
    assert "SECRET_KEY is a published default or too weak" in done.stderr


def test_plain_http_is_an_explicit_choice_that_check_deploy_reports() -> None:
    done = _check_deploy(SECRET_KEY=secrets.token_urlsafe(50), SECURE_COOKIES="0")
    assert done.returncode != 0
    assert "SESSION_COOKIE_SECURE" in done.stderr


def test_the_secret_key_is_read_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret_key"
    secret.write_text(secrets.token_urlsafe(50) + "\n")
    # (the file wins over a SECRET_KEY also set, here an empty one)
    done = _check_deploy(SECRET_KEY="", SECRET_KEY_FILE=str(secret))
    assert done.returncode == 0, done.stderr[-2000:]
    # and a file that cannot be read stops the start, naming it
    done = _check_deploy(SECRET_KEY="", SECRET_KEY_FILE=str(tmp_path / "missing"))
    assert done.returncode != 0
    assert "SECRET_KEY_FILE=" in done.stderr
    assert "cannot be read" in done.stderr
