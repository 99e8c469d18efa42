"""The Compose stack: valid against the Compose Specification and wired as the console expects.

The schema is the official one (compose-spec/compose-spec, schema/compose-spec.json), vendored in
tests/data so that nothing is fetched at test time. No Docker engine and no database are needed.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
SCHEMA_FILE = Path(__file__).resolve().parent / "data" / "compose-spec.json"

REQUIRED_SERVICES = {
    "postgres", "redis", "migrate", "web", "worker", "worker-cpu", "worker-short", "predictor"
}  # fmt: skip
APP_SERVICES = ("web", "worker", "worker-cpu", "worker-short", "predictor")
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
    assert _one_shot(services) == {"migrate"}


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
    if name == "web":
        # uploads read their bodies straight from the socket only under this protocol
        assert argv[argv.index("--http") + 1] == "console.http_protocol:BodySocketProtocol"
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
    assert _depends_on(services["migrate"]).get("postgres") == "service_healthy"


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


def test_data_lives_in_named_volumes(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    named = set(compose.get("volumes") or {})

    def mounts(service: dict[str, Any]) -> dict[str, str]:
        found = {}
        for volume in service.get("volumes") or []:
            if isinstance(volume, str):
                source, target = volume.split(":")[:2]
            else:
                source, target = volume.get("source", ""), volume["target"]
            found[target] = source
        return found

    assert mounts(services["postgres"]).get("/var/lib/postgresql/data") in named
    shared = {mounts(services[name]).get("/data") for name in APP_SERVICES}
    assert len(shared) == 1, f"web, worker and predictor mount different /data: {shared}"
    assert shared.pop() in named


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


def test_dockerfile_builds_the_frontend_and_runs_unprivileged() -> None:
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM\s+(\S+)", text, flags=re.MULTILINE)
    assert stages[0].startswith("node:20")
    assert stages[-1].startswith("python:3.11")
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
