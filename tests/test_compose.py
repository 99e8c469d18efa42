"""The Compose stack: valid against the Compose Specification and wired as the console expects.

The schema is the official one (compose-spec/compose-spec, schema/compose-spec.json), vendored in
tests/data so that nothing is fetched at test time. No Docker engine and no database are needed.
"""

from __future__ import annotations

import copy
import json
import os
import re
import runpy
import shlex
import tomllib
from pathlib import Path
from typing import Any

import flower.options
import jsonschema
import pytest
import yaml
from django.conf import settings
from django.urls import URLPattern, URLResolver
from tornado import options as tornado_options

from console import urls
from console.management.commands import runconsole
from jobs import routing

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
SCHEMA_FILE = Path(__file__).resolve().parent / "data" / "compose-spec.json"

REQUIRED_SERVICES = {
    "postgres", "redis", "minio", "createbucket", "migrate", "web", "worker", "worker-cpu",
    "worker-short", "predictor", "flower", "proxy",
}  # fmt: skip
APP_SERVICES = ("web", "worker", "worker-cpu", "worker-short", "predictor")
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


def _load_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _load_compose()


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = compose.get("services")
    assert isinstance(found, dict)
    return found


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _errors(validator: jsonschema.Draft7Validator, document: Any) -> list[str]:
    return sorted(
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in validator.iter_errors(document)
    )


def _environment(service: dict[str, Any]) -> dict[str, str | None]:
    """A service's environment as a mapping, whichever of the two spec forms it uses."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        pairs = (item.split("=", 1) for item in raw)
        return {pair[0]: (pair[1] if len(pair) == 2 else None) for pair in pairs}
    return {key: (None if value is None else str(value)) for key, value in raw.items()}


def _depends_on(service: dict[str, Any]) -> dict[str, str]:
    """Dependency name -> condition; the short (list) form means service_started."""
    raw = service.get("depends_on") or {}
    if isinstance(raw, list):
        return dict.fromkeys(raw, "service_started")
    return {name: spec["condition"] for name, spec in raw.items()}


def _argv(command: Any) -> list[str]:
    if isinstance(command, str):
        return shlex.split(command)
    assert isinstance(command, list)
    return [str(part) for part in command]


def _one_shot(services: dict[str, dict[str, Any]]) -> set[str]:
    return {
        name
        for service in services.values()
        for name, condition in _depends_on(service).items()
        if condition == "service_completed_successfully"
    }


# --- The schema and the file against it.


def test_vendored_schema_is_the_draft7_compose_specification() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    assert schema["title"] == "Compose Specification"
    assert "draft-07" in schema["$schema"]
    jsonschema.Draft7Validator.check_schema(schema)
    for definition in ("service", "healthcheck", "deployment", "devices", "volume"):
        assert definition in schema["definitions"]


def test_compose_file_follows_the_compose_specification(
    validator: jsonschema.Draft7Validator, compose: dict[str, Any]
) -> None:
    errors = _errors(validator, compose)
    assert not errors, "docker-compose.yml breaks the Compose Specification:\n" + "\n".join(errors)


def _healthcheck_interval_not_a_duration(doc: dict[str, Any]) -> None:
    doc["services"]["web"]["healthcheck"]["interval"] = 5


def _unknown_top_level_key(doc: dict[str, Any]) -> None:
    doc["service"] = doc["services"]


def _unknown_service_key(doc: dict[str, Any]) -> None:
    doc["services"]["worker"]["gpu_count"] = 1


def _unknown_depends_on_condition(doc: dict[str, Any]) -> None:
    doc["services"]["web"]["depends_on"] = {"postgres": {"condition": "service_ready"}}


def _device_without_capabilities(doc: dict[str, Any]) -> None:
    doc["services"]["worker"]["deploy"]["resources"]["reservations"]["devices"] = [
        {"driver": "nvidia", "count": 1}
    ]


@pytest.mark.parametrize(
    "mutate",
    [
        _healthcheck_interval_not_a_duration,
        _unknown_top_level_key,
        _unknown_service_key,
        _unknown_depends_on_condition,
        _device_without_capabilities,
    ],
)
def test_validator_rejects_a_broken_copy(
    validator: jsonschema.Draft7Validator, compose: dict[str, Any], mutate: Any
) -> None:
    broken = copy.deepcopy(compose)
    mutate(broken)
    assert _errors(validator, broken), f"{mutate.__name__} was accepted by the schema"


# --- The console's wiring.


def test_every_process_of_the_console_has_a_service(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) >= REQUIRED_SERVICES


def test_migrate_runs_once_and_the_app_waits_for_it(services: dict[str, dict[str, Any]]) -> None:
    migrate = services["migrate"]
    argv = " ".join(_argv(migrate["command"]))
    assert "manage.py migrate --noinput" in argv
    assert migrate.get("restart", "no") == "no"
    assert _one_shot(services) == {"migrate", "createbucket"}
    assert services["createbucket"].get("restart", "no") == "no"


def test_long_running_services_have_health_checks(services: dict[str, dict[str, Any]]) -> None:
    one_shot = _one_shot(services)
    for name, service in services.items():
        if name in one_shot:
            continue
        check = service.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        assert not check.get("disable"), f"{name} disables its healthcheck"
        assert check.get("test"), f"{name} has an empty healthcheck test"
        assert check["test"] != ["NONE"], f"{name} disables its healthcheck"


@pytest.mark.parametrize(("name", "port"), [("web", 8000), ("predictor", 8001)])
def test_http_services_check_their_own_healthz_without_curl(
    services: dict[str, dict[str, Any]], name: str, port: int
) -> None:
    argv = _argv(services[name]["command"])
    assert argv[argv.index("--port") + 1] == str(port)
    test = " ".join(_argv(services[name]["healthcheck"]["test"]))
    assert "urllib" in test
    assert f"http://127.0.0.1:{port}/healthz" in test
    assert "curl" not in test
    # The check arrives with Host: 127.0.0.1; Django answers 400 to a host it does not allow.
    allowed = (_environment(services[name]).get("ALLOWED_HOSTS") or "").split(",")
    assert "127.0.0.1" in allowed


@pytest.mark.parametrize(
    ("name", "module", "lifespan"),
    [
        ("web", "console.asgi:application", "off"),
        ("predictor", "console.predictor_asgi:application", "on"),
    ],
)
def test_http_services_run_the_console_asgi_apps(
    services: dict[str, dict[str, Any]], name: str, module: str, lifespan: str
) -> None:
    argv = _argv(services[name]["command"])
    assert argv[:3] == ["python", "-m", "uvicorn"]
    assert module in argv
    assert (ROOT / (module.split(":")[0].replace(".", "/") + ".py")).is_file()
    assert argv[argv.index("--lifespan") + 1] == lifespan
    assert argv[argv.index("--host") + 1] == "0.0.0.0"  # noqa: S104
    # SIGTERM lets in-flight requests finish, and Docker waits longer than the server does.
    grace = int(argv[argv.index("--timeout-graceful-shutdown") + 1])
    assert grace == runconsole.SERVER_GRACE_SECONDS
    stop = services[name]["stop_grace_period"]
    assert stop.endswith("s")
    assert int(stop[:-1]) > grace
    if name == "web":
        # uploads read their bodies straight from the socket only under this protocol
        assert argv[argv.index("--http") + 1] == "console.http_protocol:BodySocketProtocol"
        # no per-frame compression of the progress sockets, as runconsole starts it
        for web in (argv, runconsole.web_argv("0.0.0.0", 8000)):  # noqa: S104
            assert web[web.index("--ws-per-message-deflate") + 1] == "false"
    else:
        # TCP_NODELAY and one write per response, as runconsole starts it
        assert argv[argv.index("--http") + 1] == "console.predictor_protocol:NoDelayProtocol"
        assert "--no-access-log" in argv


def test_worker_reserves_one_nvidia_gpu(services: dict[str, dict[str, Any]]) -> None:
    worker = services["worker"]
    reservations = (worker.get("deploy") or {}).get("resources", {}).get("reservations", {})
    devices = reservations.get("devices") or []
    gpus = [d for d in devices if d.get("driver") == "nvidia" and "gpu" in d["capabilities"]]
    assert gpus, "the worker reserves no nvidia GPU"
    assert all(d.get("count", "all") not in (0, "0") for d in gpus)
    env = _environment(worker)
    assert env.get("XLA_PYTHON_CLIENT_PREALLOCATE") == "false"
    assert env.get("TF_FORCE_GPU_ALLOW_GROWTH") == "true"
    # One worker per GPU: it is given exactly one card.
    assert (env.get("CUDA_VISIBLE_DEVICES") or "").isdigit()
    assert not (services["worker-cpu"].get("deploy") or {}).get("resources")
    assert _environment(services["worker-cpu"]).get("CUDA_VISIBLE_DEVICES") == ""


def _worker_queues(service: dict[str, Any]) -> list[str]:
    argv = _argv(service["command"])
    assert argv[:3] == ["python", "-m", "celery"]
    assert "worker" in argv
    assert argv[argv.index("--max-tasks-per-child") + 1] == "1"
    assert "inspect ping" in " ".join(_argv(service["healthcheck"]["test"]))
    return argv[argv.index("-Q") + 1].split(",")


def test_workers_consume_the_gpu_and_cpu_queues(services: dict[str, dict[str, Any]]) -> None:
    assert _worker_queues(services["worker"]) == ["gpu"]
    argv = _argv(services["worker"]["command"])
    assert argv[argv.index("--concurrency") + 1] == "1"
    assert _worker_queues(services["worker-cpu"]) == ["cpu"]
    # Tasks sent without a route go to the sender's default queue: a worker must consume it.
    for name in ("web", "predictor", "worker", "worker-cpu", "worker-short"):
        assert _environment(services[name]).get("CELERY_DEFAULT_QUEUE") == "cpu", name


def test_profiling_has_workers_that_never_train(services: dict[str, dict[str, Any]]) -> None:
    # Where the web process sends a profile (no CELERY_SHORT_QUEUE in the compose file).
    assert "CELERY_SHORT_QUEUE" not in _environment(services["web"])
    short = settings.CELERY_TASK_ROUTES["jobs.tasks.profile_dataset"]["queue"]
    workers = [name for name in services if name.startswith("worker")]
    assert [name for name in workers if short in _worker_queues(services[name])] == ["worker-short"]
    # Its workers take no training queue, so a running job cannot hold up a profile.
    assert set(_worker_queues(services["worker-short"])) == {short}
    argv = _argv(services["worker-short"]["command"])
    assert int(argv[argv.index("--concurrency") + 1]) >= 2
    assert not (services["worker-short"].get("deploy") or {}).get("resources")


def test_app_waits_for_healthy_postgres_and_redis(services: dict[str, dict[str, Any]]) -> None:
    for name in APP_SERVICES:
        depends = _depends_on(services[name])
        assert depends.get("postgres") == "service_healthy", name
        assert depends.get("redis") == "service_healthy", name
        assert depends.get("migrate") == "service_completed_successfully", name
        assert depends.get("minio") == "service_healthy", name
        assert depends.get("createbucket") == "service_completed_successfully", name
    assert _depends_on(services["migrate"]).get("postgres") == "service_healthy"
    assert _depends_on(services["createbucket"]).get("minio") == "service_healthy"


def test_backends_check_their_health_with_their_own_tools(
    services: dict[str, dict[str, Any]],
) -> None:
    assert services["postgres"]["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(_argv(services["postgres"]["healthcheck"]["test"]))
    assert services["redis"]["image"].startswith("redis:7")
    assert "redis-cli ping" in " ".join(_argv(services["redis"]["healthcheck"]["test"]))


def test_app_services_point_at_the_stack(services: dict[str, dict[str, Any]]) -> None:
    for name in ("migrate", *APP_SERVICES):
        env = _environment(services[name])
        assert (env.get("DATABASE_URL") or "").startswith("postgres://"), name
        assert "@postgres:5432/" in (env.get("DATABASE_URL") or ""), name
        assert env.get("REDIS_URL") == "redis://redis:6379/0", name
        assert env.get("PREDICTOR_URL") == "http://predictor:8001", name
        assert env.get("PREDICTOR_PUBLIC_URL"), name
        assert env.get("KERAS_BACKEND") == "torch", name
        assert env.get("CONSOLE_DATA_DIR") == "/data", name
        assert env.get("STORAGE_BACKEND") == "s3", name
        assert env.get("S3_ENDPOINT_URL") == "${S3_ENDPOINT_URL:-http://minio:9000}", name


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    found = {}
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume.get("source", ""), volume["target"]
        found[target] = source
    return found


def test_data_lives_in_named_volumes_and_no_process_shares_one(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    named = set(compose.get("volumes") or {})
    assert _mounts(services["postgres"]).get("/var/lib/postgresql/data") in named
    assert _mounts(services["redis"]).get("/data") in named
    assert _mounts(services["minio"]).get("/data") in named
    # Files go through the object store: workers and predictors mount nothing, so each may run
    # on another machine; the web keeps a volume of its own for scratch (a request in flight).
    for name in (*APP_SERVICES, "migrate", "flower"):
        if name != "web":
            assert not services[name].get("volumes"), f"{name} mounts {services[name]['volumes']}"
    assert _mounts(services["web"]).get("/data") in named
    owners: dict[str, list[str]] = {}
    for name, service in services.items():
        for source in _mounts(service).values():
            owners.setdefault(source, []).append(name)
    shared = {source: names for source, names in owners.items() if len(names) > 1}
    assert not shared, f"volumes mounted by more than one service: {shared}"
    assert "consoledata" not in named


def test_predictor_scales_as_replicas(services: dict[str, dict[str, Any]]) -> None:
    replicas = services["predictor"]["deploy"]["replicas"]
    assert isinstance(replicas, int) or str(replicas).startswith("${")
    # A published host port would make a second replica fail to start.
    assert not services["predictor"].get("ports")


def test_secret_key_is_never_hard_coded(services: dict[str, dict[str, Any]]) -> None:
    text = COMPOSE_FILE.read_text()
    assert "insecure-embedded-default-key" not in text
    for name, service in services.items():
        env = _environment(service)
        if "SECRET_KEY" in env:
            value = env["SECRET_KEY"] or ""
            assert REQUIRED_SECRET_KEY.match(value), (
                f"{name} sets SECRET_KEY to {value!r}; use ${{SECRET_KEY:?...}}"
            )
        for switch in INSECURE_SWITCHES:
            assert (env.get(switch) or "").strip().lower() not in TRUTHY, f"{name} sets {switch}"
    for name in ("migrate", *APP_SERVICES):
        env = _environment(services[name])
        assert "SECRET_KEY" in env or "SECRET_KEY_FILE" in env, f"{name} gets no SECRET_KEY"


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
    assert services["worker"]["build"]["args"]["TORCH_VARIANT"] == "cuda"
    for name in ("migrate", "web", "worker-cpu", "worker-short", "predictor", "flower"):
        assert services[name]["build"]["args"]["TORCH_VARIANT"] == "cpu", name
    # Two builds, two tags: the CPU image must not overwrite the CUDA one.
    assert services["worker"]["image"] != services["web"]["image"]


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
    return {k: _interpolate(v or "", SAMPLE_ENV) for k, v in _environment(service).items()}


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
    script = _interpolate(" ".join(_argv(step["entrypoint"])), SAMPLE_ENV)
    assert 'mc mb --ignore-existing "store/$S3_BUCKET"' in script
    assert "http://minio:9000" in script
    app = _env_of(services["web"])
    assert env["S3_BUCKET"] == app["S3_BUCKET"]
    # MinIO's root user is the app's key (see the compose file for why).
    minio = {
        k: _interpolate(v or "", SAMPLE_ENV) for k, v in _environment(services["minio"]).items()
    }
    assert (minio["MINIO_ROOT_USER"], minio["MINIO_ROOT_PASSWORD"]) == (
        app["S3_ACCESS_KEY_ID"], app["S3_SECRET_ACCESS_KEY"],
    )  # fmt: skip
    image = services["minio"]["image"]
    assert re.fullmatch(r"minio/minio:RELEASE\.[\dT:-]+Z", image), image
    assert re.fullmatch(r"minio/mc:RELEASE\.[\dT:-]+Z", step["image"]), step["image"]
    assert "minio/health" in str(services["minio"]["healthcheck"]["test"]) or (
        _argv(services["minio"]["healthcheck"]["test"]) == ["CMD", "mc", "ready", "local"]
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
        for variable in _environment(services[name]):
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


def test_redis_keeps_the_queue_across_a_restart(services: dict[str, dict[str, Any]]) -> None:
    argv = _argv(services["redis"]["command"])
    assert argv[argv.index("--appendonly") + 1] == "yes"
    assert _mounts(services["redis"]).get("/data")


def test_every_long_running_service_restarts(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        if name in _one_shot(services):
            assert service.get("restart", "no") == "no", name
        else:
            assert service.get("restart") in ("unless-stopped", "always"), name


def test_flower_monitors_the_console_queues_behind_basic_auth(
    services: dict[str, dict[str, Any]],
) -> None:
    flower = services["flower"]
    argv = _argv(flower["command"])
    assert argv[:6] == ["python", "-m", "celery", "-A", "console", "flower"]
    assert _environment(flower)["FLOWER_BASIC_AUTH"] == (
        "${FLOWER_BASIC_AUTH:?set FLOWER_BASIC_AUTH to user:password}"
    )
    assert "--url_prefix=flower" in argv
    assert "--port=5555" in argv
    assert "http://127.0.0.1:5555/flower/healthcheck" in " ".join(
        _argv(flower["healthcheck"]["test"])
    )
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert [pin for pin in pins if pin.startswith("flower==")], pins
    # Task events, so that Flower sees tasks and not only workers.
    for name in ("worker", "worker-cpu", "worker-short"):
        assert "-E" in _argv(services[name]["command"]), name


# --- The reverse proxy: every path the code serves reaches the process that serves it.


def _proxy_config(compose: dict[str, Any]) -> str:
    return str(compose["configs"]["proxy"]["content"]).replace("$$", "$")


def _locations(config: str) -> dict[str, tuple[bool, str]]:
    """Location path -> (exact match?, its body)."""
    found = re.findall(r"location\s+(=\s+)?(\S+)\s*\{(.*?)\n\s*\}", config, flags=re.DOTALL)
    return {path: (bool(exact), body) for exact, path, body in found}


def _route(config: str, path: str) -> tuple[str, str]:
    """(upstream URL, location body) nginx picks for `path`: exact match, else longest prefix."""
    locations = _locations(config)
    upstreams = dict(re.findall(r"set\s+\$(\w+)\s+(\S+);", config))
    exact = [p for p, (is_exact, _) in locations.items() if is_exact and p == path]
    prefixes = [p for p, (is_exact, _) in locations.items() if not is_exact and path.startswith(p)]
    chosen = exact[0] if exact else max(prefixes, key=len)
    body = locations[chosen][1]
    target = re.search(r"proxy_pass\s+\$(\w+);", body)
    assert target, f"{chosen} proxies nothing"
    return upstreams[target.group(1)], body


def _sample(pattern: str) -> str:
    return "/" + re.sub(r"<[^>]+>", "1", pattern)


def _port(service: dict[str, Any]) -> str:
    argv = _argv(service["command"])
    if "--port" in argv:
        return argv[argv.index("--port") + 1]
    return next(a.split("=", 1)[1] for a in argv if a.startswith("--port="))


def test_proxy_sends_every_console_path_to_the_web(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    config = _proxy_config(compose)
    web = f"http://web:{_port(services['web'])}"
    paths = [
        _sample(str(p.pattern)) for p in urls.urlpatterns if isinstance(p, URLPattern | URLResolver)
    ]
    assert len(paths) == len(urls.urlpatterns)
    assert "/api/v1/" in paths
    assert "/login/" in paths
    for path in [*paths, "/static/frontend/app.js", "/api/v1/jobs/1/"]:
        upstream, body = _route(config, path)
        assert upstream == web, f"{path} goes to {upstream}"
        assert "proxy_set_header Host $http_host;" in body, path
        assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in body, path
    # Uploads stream through to the web, which holds them to its own limits.
    _, body = _route(config, "/api/v1/uploads/1/")
    assert "proxy_request_buffering off;" in body
    assert "client_max_body_size 0;" in body


def test_proxy_upgrades_websockets_to_the_web(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    config = _proxy_config(compose)
    assert "map $http_upgrade $connection_upgrade" in config
    for pattern in routing.websocket_urlpatterns:
        upstream, body = _route(config, _sample(str(pattern.pattern)))
        assert upstream == f"http://web:{_port(services['web'])}"
        assert "proxy_set_header Upgrade $http_upgrade;" in body
        assert "proxy_set_header Connection $connection_upgrade;" in body
        assert "proxy_set_header Host $http_host;" in body


# The predictor's public routes, as models_registry/predictor/app.py lists them.
PREDICTOR_PATHS = (
    "/v1/deployments/churn/predict", "/v1/deployments/churn", "/v1/deployments/churn/metrics",
    "/v2", "/v2/health/live", "/v2/health/ready", "/v2/models/churn",
    "/v2/models/churn/versions/1/ready", "/v2/models/churn/infer",
    "/v2/models/churn/versions/1/infer",
)  # fmt: skip


def test_proxy_sends_deployment_endpoints_to_the_predictors(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    config = _proxy_config(compose)
    documented = (ROOT / "models_registry" / "predictor" / "app.py").read_text()
    assert "`POST /v1/deployments/<name>/predict`" in documented
    assert "`POST /v2/models/<name>[/versions/<v>]/infer`" in documented
    for path in PREDICTOR_PATHS:
        upstream, body = _route(config, path)
        assert upstream == f"http://predictor:{_port(services['predictor'])}", path
        assert "proxy_set_header Host $http_host;" in body, path
    # Deployments' endpoints are published on the proxy's origin.
    env = _environment(services["web"])
    assert env["PREDICTOR_PUBLIC_URL"] == "${PUBLIC_URL:-http://localhost:8000}"
    assert services["proxy"]["ports"] == ["${HTTP_PORT:-8000}:80"]
    assert "listen 80;" in config
    for name in ("web", "predictor", "flower"):
        assert not services[name].get("ports"), f"{name} is published past the proxy"


def test_proxy_sends_flower_to_flower(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    config = _proxy_config(compose)
    upstream, body = _route(config, "/flower/dashboard")
    assert upstream == f"http://flower:{_port(services['flower'])}"
    assert "proxy_set_header Upgrade $http_upgrade;" in body
    health = services["proxy"]["healthcheck"]["test"]
    assert "http://127.0.0.1/proxy-health" in health
    assert _locations(config)["/proxy-health"][0]
