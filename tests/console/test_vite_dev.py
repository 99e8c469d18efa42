"""`make dev`: the shell loads the app from Vite's dev server, which serves the sources."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.test import Client, override_settings

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.django_db
def test_the_shell_loads_the_dev_servers_modules_and_its_policy_allows_them(
    personas: dict[str, Any],
) -> None:
    client = Client()
    client.force_login(personas["owner"])
    with override_settings(VITE_DEV_SERVER="http://127.0.0.1:5173"):
        answer = client.get("/")
    assert answer.status_code == 200
    page = answer.content.decode()
    assert 'src="http://127.0.0.1:5173/static/frontend/@vite/client"' in page
    assert 'src="http://127.0.0.1:5173/static/frontend/src/main.tsx"' in page
    policy = answer["Content-Security-Policy"]
    assert "script-src 'self' http://127.0.0.1:5173;" in policy
    assert "ws://127.0.0.1:5173" in policy
    # Without it (and always without DEBUG), only the page's own origin.
    assert "5173" not in client.get("/")["Content-Security-Policy"]


def test_vites_dev_server_serves_the_entry_under_the_bundles_base() -> None:
    port = _free_port()
    server = subprocess.Popen(
        ["npx", "vite"],
        cwd=FRONTEND,
        env={**os.environ, "VITE_PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/static/frontend/src/main.tsx"
        deadline = time.monotonic() + 60
        while True:
            try:
                # From the shell's origin: the dev server must allow it (CORS) for module scripts.
                got = httpx.get(url, headers={"Origin": "http://127.0.0.1:8000"}, timeout=10)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the dev server did not start"
                time.sleep(0.3)
        assert got.status_code == 200, got.text[:500]
        assert "javascript" in got.headers["content-type"]
        assert got.headers.get("access-control-allow-origin") in ("*", "http://127.0.0.1:8000")
        # The JSX is compiled for the browser, and the shell is what it renders.
        assert "Shell" in got.text
        assert "<Shell" not in got.text
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=20)
