"""The first sign-in `make run` creates: written for its owner's eyes only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_the_credentials_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "credentials.txt"
    path.write_text("an older file\n")
    path.chmod(0o644)
    old_umask = os.umask(0o022)
    try:
        call_command("bootstrap_user", "--credentials-file", str(path))
    finally:
        os.umask(old_umask)
    assert path.stat().st_mode & 0o777 == 0o600
    username, password = path.read_text().split()
    assert username == "admin"
    assert len(password) >= 12
