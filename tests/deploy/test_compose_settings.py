"""What console/settings.py makes of each service's environment in docker-compose.yml, with an
operator's sample env file: production settings, and every variable read by something."""

from __future__ import annotations

import os
import re
import runpy
from typing import Any

import flower.options
import pytest
from tornado import options as tornado_options

from tests.deploy.compose_file import (
    COMPOSE_FILE,
    DOCKERIGNORE,
    ENV_EXAMPLE,
    IMAGE_SERVICES,
    REQUIRED_VARIABLES,
    ROOT,
    command_argv,
    service_env,
)

# --- Values: what the settings make of the compose file's environment.

# What an operator's env file would hold; the optional variables keep their defaults.
SAMPLE_ENV = {
    "SECRET_KEY": "k" * 30 + "ABCDEFGHIJ0123456789",
    "POSTGRES_PASSWORD": "pgpass",
    "S3_ACCESS_KEY_ID": "console",
    "S3_SECRET_ACCESS_KEY": "s3-secret-value",
    "FLOWER_BASIC_AUTH": "ops:flower-pass",
}
_INTERPOLATION = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's `${NAME}`, `${NAME:-default}` and `${NAME:?error}`, and `$$` for `$`."""

    def one(match: re.Match[str]) -> str:
        name, operator, argument = match.group(1), match.group(2), match.group(3)
        got = env.get(name)
        if operator and operator.endswith("?") and not got:
            raise AssertionError(f"{name} is required: {argument}")
        if operator and operator.endswith("-") and not got:
            return argument
        return got or ""

    return _INTERPOLATION.sub(one, value.replace("$$", "\0")).replace("\0", "$")


def _env_of(service: dict[str, Any]) -> dict[str, str]:
    """The service's environment as Compose hands it over, from the sample env file."""
    return {k: _interpolate(v or "", SAMPLE_ENV) for k, v in service_env(service).items()}


def _settings_for(service: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """console/settings.py run afresh with the service's environment and nothing else."""
    monkeypatch.setattr(os, "environ", _env_of(service))
    return runpy.run_path(str(ROOT / "console" / "settings.py"))


@pytest.mark.parametrize("name", IMAGE_SERVICES)
def test_settings_read_the_compose_environment_as_production(
    services: dict[str, dict[str, Any]], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = _settings_for(services[name], monkeypatch)
    assert loaded["PRODUCTION"]
    assert loaded["SECRET_KEY"] == SAMPLE_ENV["SECRET_KEY"]
    database = loaded["DATABASES"]["default"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["HOST"], database["NAME"], database["PASSWORD"]) == (
        "postgres", "console", "pgpass",
    )  # fmt: skip
    assert not loaded["EMBEDDED"]
    assert loaded["CELERY_BROKER_URL"] == "redis://redis:6379/0"
    storage = loaded["STORAGES"]["default"]
    assert storage["BACKEND"] == "storages.backends.s3.S3Storage"
    assert storage["OPTIONS"]["endpoint_url"] == "http://minio:9000"
    assert storage["OPTIONS"]["bucket_name"] == "automl-console"
    assert storage["OPTIONS"]["access_key"] == SAMPLE_ENV["S3_ACCESS_KEY_ID"]
    assert storage["OPTIONS"]["secret_key"] == SAMPLE_ENV["S3_SECRET_ACCESS_KEY"]
    assert loaded["PREDICTOR_URL"] == "http://predictor:8001"
    assert loaded["TRUSTED_PROXY_COUNT"] == 1
    assert "127.0.0.1" in loaded["ALLOWED_HOSTS"]


def test_the_bucket_step_makes_the_bucket_the_app_uses(
    services: dict[str, dict[str, Any]],
) -> None:
    step = services["createbucket"]
    env = _env_of(step)
    script = _interpolate(" ".join(command_argv(step["entrypoint"])), SAMPLE_ENV)
    assert 'mc mb --ignore-existing "store/$S3_BUCKET"' in script
    assert "http://minio:9000" in script
    app = _env_of(services["web"])
    assert env["S3_BUCKET"] == app["S3_BUCKET"]
    # MinIO's root user is the app's key (see the compose file for why).
    minio = {
        k: _interpolate(v or "", SAMPLE_ENV) for k, v in service_env(services["minio"]).items()
    }
    assert (minio["MINIO_ROOT_USER"], minio["MINIO_ROOT_PASSWORD"]) == (
        app["S3_ACCESS_KEY_ID"], app["S3_SECRET_ACCESS_KEY"],
    )  # fmt: skip
    image = services["minio"]["image"]
    assert re.fullmatch(r"minio/minio:RELEASE\.[\dT:-]+Z", image), image
    assert re.fullmatch(r"minio/mc:RELEASE\.[\dT:-]+Z", step["image"]), step["image"]
    assert "minio/health" in str(services["minio"]["healthcheck"]["test"]) or (
        command_argv(services["minio"]["healthcheck"]["test"]) == ["CMD", "mc", "ready", "local"]
    )


def _code_text() -> str:
    return "\n".join(
        path.read_text()
        for package in ("console", "jobs", "models_registry")
        for path in (ROOT / package).rglob("*.py")
    )


def test_every_variable_the_compose_file_sets_is_read_somewhere(
    services: dict[str, dict[str, Any]],
) -> None:
    code = _code_text()
    # Importing flower.options defines Flower's options on tornado's global parser.
    assert flower.options.__name__
    flower_options = set(tornado_options.options.as_dict())
    unread = []
    for name in IMAGE_SERVICES:
        for variable in service_env(services[name]):
            if variable.startswith("FLOWER_"):
                # Flower maps FLOWER_<option> onto its own options.
                if variable.removeprefix("FLOWER_").lower() not in flower_options:
                    unread.append(f"{name}: {variable}")
            elif variable == "CUDA_VISIBLE_DEVICES":
                continue  # read by CUDA itself
            elif f'"{variable}"' not in code:
                unread.append(f"{name}: {variable}")
    assert not unread, f"set in docker-compose.yml, read by nothing: {unread}"


def test_required_secrets_have_no_default_and_are_in_the_example_env_file() -> None:
    text = COMPOSE_FILE.read_text()
    for variable in REQUIRED_VARIABLES:
        uses = re.findall(r"\$\{" + variable + r"([^}]*)\}", text)
        assert uses, f"{variable} is not used"
        assert all(use.startswith(":?") for use in uses), f"{variable} has a default: {uses}"
    # Every required variable, and only those, is marked as such in the compose file.
    assert set(re.findall(r"\$\{(\w+):\?", text)) == REQUIRED_VARIABLES
    example = dict(
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if re.match(r"^\w+=", line)
    )
    assert set(example) == REQUIRED_VARIABLES
    assert all(not value for value in example.values()), "the example env file holds a secret"
    assert ".env" in (ROOT / ".gitignore").read_text().split()
    assert ".env" in DOCKERIGNORE.read_text().split()
