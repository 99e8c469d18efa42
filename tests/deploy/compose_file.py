"""The deployment files as the tests read them: docker-compose.yml's services, their
environment, commands and mounts, in whichever of the spec's forms the file uses."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
SCHEMA_FILE = ROOT / "tests" / "data" / "compose-spec.json"

REQUIRED_SERVICES = {
    "postgres", "redis", "minio", "createbucket", "migrate", "web", "worker-gpu", "worker-cpu",
    "worker-short", "predictor", "flower", "proxy",
}  # fmt: skip
APP_SERVICES = ("web", "worker-gpu", "worker-cpu", "worker-short", "predictor")
# Every service that runs the console's image (and so reads console/settings.py).
IMAGE_SERVICES = ("migrate", *APP_SERVICES, "flower")
ENV_EXAMPLE = ROOT / "deploy" / "console.env.example"
# Secrets: no default anywhere in the file, and listed in the example env file.
REQUIRED_VARIABLES = {
    "SECRET_KEY", "POSTGRES_PASSWORD", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY",
    "FLOWER_BASIC_AUTH",
}  # fmt: skip
# `${SECRET_KEY:?message}` or `${SECRET_KEY?message}`: Compose refuses to start without it.
REQUIRED_SECRET_KEY = re.compile(r"^\$\{SECRET_KEY:?\?[^}]*\}$")
# Lets the settings fall back to the published development key when SECRET_KEY is empty.
INSECURE_SWITCHES = ("DEBUG", "CONSOLE_EMBEDDED")
TRUTHY = {"1", "true", "yes", "on"}


def load_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    return data


def service_env(service: dict[str, Any]) -> dict[str, str | None]:
    """A service's environment as a mapping, whichever of the two spec forms it uses."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        pairs = (item.split("=", 1) for item in raw)
        return {pair[0]: (pair[1] if len(pair) == 2 else None) for pair in pairs}
    return {key: (None if value is None else str(value)) for key, value in raw.items()}


def service_depends_on(service: dict[str, Any]) -> dict[str, str]:
    """Dependency name -> condition; the short (list) form means service_started."""
    raw = service.get("depends_on") or {}
    if isinstance(raw, list):
        return dict.fromkeys(raw, "service_started")
    return {name: spec["condition"] for name, spec in raw.items()}


def command_argv(command: Any) -> list[str]:
    if isinstance(command, str):
        return shlex.split(command)
    assert isinstance(command, list)
    return [str(part) for part in command]


def one_shot_services(services: dict[str, dict[str, Any]]) -> set[str]:
    return {
        name
        for service in services.values()
        for name, condition in service_depends_on(service).items()
        if condition == "service_completed_successfully"
    }


def service_mounts(service: dict[str, Any]) -> dict[str, str]:
    found = {}
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume.get("source", ""), volume["target"]
        found[target] = source
    return found
