"""The image: a multi-stage Dockerfile (frontend build, Python, slim runtime; a CUDA variant
for the GPU worker) that the compose file builds."""

from __future__ import annotations

import re
from typing import Any

from tests.deploy.compose_file import (
    DOCKERFILE,
    DOCKERIGNORE,
)


def _stages(dockerfile: str) -> dict[str, str]:
    """Stage name -> what it is built FROM."""
    found = re.findall(r"^FROM\s+(\S+)\s+AS\s+(\S+)$", dockerfile, flags=re.MULTILINE)
    return {alias: base for base, alias in found}


def test_dockerfile_builds_the_frontend_and_runs_unprivileged() -> None:
    text = DOCKERFILE.read_text()
    stages = _stages(text)
    assert stages["frontend"].startswith("node:20")
    assert stages["python-base"].startswith("python:3.11")
    assert "npm ci" in text
    assert "npm run build" in text
    assert re.search(r"^COPY --from=frontend \S+ \./frontend/dist$", text, flags=re.MULTILINE)
    assert "WORKDIR /app" in text
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.MULTILINE)
    assert users
    assert users[-1] not in {"root", "0"}
    assert re.search(r"^EXPOSE 8000 8001$", text, flags=re.MULTILINE)
    assert "PYTHONUNBUFFERED=1" in text
    ignored = DOCKERIGNORE.read_text().split()
    for path in (".venv/", "frontend/node_modules/", ".git"):
        assert path in ignored


def test_dockerfile_has_a_cuda_build_for_the_gpu_worker(
    services: dict[str, dict[str, Any]],
) -> None:
    text = DOCKERFILE.read_text()
    # A global build argument, declared before the first stage so that a FROM can use it.
    assert text.index("ARG TORCH_VARIANT=cpu") < text.index("FROM ")
    stages = _stages(text)
    assert stages["deps-cpu"] == stages["deps-cuda"] == "python-base"
    assert stages["runtime"] == "deps-${TORCH_VARIANT}"
    assert list(stages)[-1] == "runtime"
    assert services["worker-gpu"]["build"]["args"]["TORCH_VARIANT"] == "cuda"
    for name in ("migrate", "web", "worker-cpu", "worker-short", "predictor", "flower"):
        assert services[name]["build"]["args"]["TORCH_VARIANT"] == "cpu", name
    # Two builds, two tags: the CPU image must not overwrite the CUDA one.
    assert services["worker-gpu"]["image"] != services["web"]["image"]
