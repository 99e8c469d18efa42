"""The Compose stack: valid against the Compose Specification and wired as the console expects.

The schema is the official one (compose-spec/compose-spec, schema/compose-spec.json), vendored in
tests/data so that nothing is fetched at test time. No Docker engine and no database are needed.
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
from typing import Any

import jsonschema
import pytest
from django.conf import settings

from console import webserver
from console.management.commands import runconsole
from tests.deploy.compose_file import (
    APP_SERVICES,
    COMPOSE_FILE,
    INSECURE_SWITCHES,
    REQUIRED_SECRET_KEY,
    REQUIRED_SERVICES,
    ROOT,
    SCHEMA_FILE,
    TRUTHY,
    command_argv,
    one_shot_services,
    service_depends_on,
    service_env,
    service_mounts,
)


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
    doc["services"]["worker-gpu"]["gpu_count"] = 1


def _unknown_depends_on_condition(doc: dict[str, Any]) -> None:
    doc["services"]["web"]["depends_on"] = {"postgres": {"condition": "service_ready"}}


def _device_without_capabilities(doc: dict[str, Any]) -> None:
    doc["services"]["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"] = [
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
    argv = " ".join(command_argv(migrate["command"]))
    assert "manage.py migrate --noinput" in argv
    assert migrate.get("restart", "no") == "no"
    assert one_shot_services(services) == {"migrate", "createbucket"}
    assert services["createbucket"].get("restart", "no") == "no"


def test_long_running_services_have_health_checks(services: dict[str, dict[str, Any]]) -> None:
    one_shot = one_shot_services(services)
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
    argv = command_argv(services[name]["command"])
    assert argv[argv.index("--port") + 1] == str(port)
    test = " ".join(command_argv(services[name]["healthcheck"]["test"]))
    assert "urllib" in test
    assert f"http://127.0.0.1:{port}/healthz" in test
    assert "curl" not in test
    # The check arrives with Host: 127.0.0.1; Django answers 400 to a host it does not allow.
    allowed = (service_env(services[name]).get("ALLOWED_HOSTS") or "").split(",")
    assert "127.0.0.1" in allowed


def test_the_web_service_runs_the_web_server_as_runconsole_does(
    services: dict[str, dict[str, Any]],
) -> None:
    argv = command_argv(services["web"]["command"])
    # the one web server module (its protocol, grace and websocket settings), on all addresses
    assert argv[:3] == ["python", "-m", "console.webserver"]
    assert (ROOT / "console" / "webserver.py").is_file()
    mine = runconsole.web_argv("0.0.0.0", 8000)  # noqa: S104
    assert argv[3:] == mine[3:]
    assert mine[1:3] == ["-m", "console.webserver"]
    # Docker waits longer after SIGTERM than the server lets requests finish.
    config = webserver.config("console.asgi:application")
    assert config.timeout_graceful_shutdown == runconsole.SERVER_GRACE_SECONDS
    assert int(services["web"]["stop_grace_period"].removesuffix("s")) > (
        runconsole.SERVER_GRACE_SECONDS
    )
    # uploads read their bodies straight from the socket only under this protocol, and the
    # progress sockets' frames are not compressed one by one
    assert config.http == "console.http_protocol:BodySocketProtocol"
    assert config.ws_per_message_deflate is False
    assert config.lifespan == "off"


def test_the_predictor_service_runs_the_predictor_app(
    services: dict[str, dict[str, Any]],
) -> None:
    argv = command_argv(services["predictor"]["command"])
    assert argv[:3] == ["python", "-m", "uvicorn"]
    assert "console.predictor_asgi:application" in argv
    assert (ROOT / "console" / "predictor_asgi.py").is_file()
    assert argv[argv.index("--lifespan") + 1] == "on"
    assert argv[argv.index("--host") + 1] == "0.0.0.0"  # noqa: S104
    # SIGTERM lets in-flight requests finish, and Docker waits longer than the server does.
    grace = int(argv[argv.index("--timeout-graceful-shutdown") + 1])
    assert grace == runconsole.SERVER_GRACE_SECONDS
    stop = services["predictor"]["stop_grace_period"]
    assert stop.endswith("s")
    assert int(stop[:-1]) > grace
    # TCP_NODELAY and one write per response, as runconsole starts it
    assert argv[argv.index("--http") + 1] == "console.predictor_protocol:NoDelayProtocol"
    assert "--no-access-log" in argv


def test_the_gpu_worker_reserves_the_cards_and_runs_one_process_per_card(
    services: dict[str, dict[str, Any]],
) -> None:
    worker = services["worker-gpu"]
    reservations = (worker.get("deploy") or {}).get("resources", {}).get("reservations", {})
    devices = reservations.get("devices") or []
    gpus = [d for d in devices if d.get("driver") == "nvidia" and "gpu" in d["capabilities"]]
    assert gpus, "the worker reserves no nvidia GPU"
    assert all(d.get("count", "all") not in (0, "0") for d in gpus)
    env = service_env(worker)
    assert env.get("XLA_PYTHON_CLIENT_PREALLOCATE") == "false"
    assert env.get("TF_FORCE_GPU_ALLOW_GROWTH") == "true"
    # One pool process per listed card (console/celery.py pins each): the worker's
    # concurrency comes from GPU_DEVICES, so the command must not set another.
    assert env.get("GPU_DEVICES") == "${GPU_DEVICES:-0}"
    assert "CUDA_VISIBLE_DEVICES" not in env
    assert "--concurrency" not in command_argv(worker["command"])
    assert not (services["worker-cpu"].get("deploy") or {}).get("resources")
    assert service_env(services["worker-cpu"]).get("CUDA_VISIBLE_DEVICES") == ""


def _worker_queues(service: dict[str, Any]) -> list[str]:
    argv = command_argv(service["command"])
    assert argv[:3] == ["python", "-m", "celery"]
    assert "worker" in argv
    assert argv[argv.index("--max-tasks-per-child") + 1] == "1"
    assert "inspect ping" in " ".join(command_argv(service["healthcheck"]["test"]))
    return argv[argv.index("-Q") + 1].split(",")


def test_workers_consume_the_gpu_and_cpu_queues(services: dict[str, dict[str, Any]]) -> None:
    assert _worker_queues(services["worker-gpu"]) == ["gpu"]
    assert _worker_queues(services["worker-cpu"]) == ["cpu"]
    # Tasks sent without a route go to the sender's default queue: a worker must consume it.
    for name in ("web", "predictor", "worker-gpu", "worker-cpu", "worker-short"):
        assert service_env(services[name]).get("CELERY_DEFAULT_QUEUE") == "cpu", name


def test_cpu_training_yields_the_host_cpus_to_the_serving_services(
    services: dict[str, dict[str, Any]],
) -> None:
    # Niceness ranks processes within one container only: across containers, CPU shares do.
    assert services["worker-cpu"]["cpu_shares"] < 1024
    assert all("cpu_shares" not in services[name] for name in ("web", "predictor", "proxy"))


def test_profiling_has_workers_that_never_train(services: dict[str, dict[str, Any]]) -> None:
    # Where the web process sends a profile (no CELERY_SHORT_QUEUE in the compose file).
    assert "CELERY_SHORT_QUEUE" not in service_env(services["web"])
    short = settings.CELERY_TASK_ROUTES["jobs.tasks.profile_dataset"]["queue"]
    workers = [name for name in services if name.startswith("worker")]
    assert [name for name in workers if short in _worker_queues(services[name])] == ["worker-short"]
    # Its workers take no training queue, so a running job cannot hold up a profile.
    assert set(_worker_queues(services["worker-short"])) == {short}
    argv = command_argv(services["worker-short"]["command"])
    assert int(argv[argv.index("--concurrency") + 1]) >= 2
    assert not (services["worker-short"].get("deploy") or {}).get("resources")


def test_app_waits_for_healthy_postgres_and_redis(services: dict[str, dict[str, Any]]) -> None:
    for name in APP_SERVICES:
        depends = service_depends_on(services[name])
        assert depends.get("postgres") == "service_healthy", name
        assert depends.get("redis") == "service_healthy", name
        assert depends.get("migrate") == "service_completed_successfully", name
        assert depends.get("minio") == "service_healthy", name
        assert depends.get("createbucket") == "service_completed_successfully", name
    assert service_depends_on(services["migrate"]).get("postgres") == "service_healthy"
    assert service_depends_on(services["createbucket"]).get("minio") == "service_healthy"


def test_backends_check_their_health_with_their_own_tools(
    services: dict[str, dict[str, Any]],
) -> None:
    assert services["postgres"]["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(command_argv(services["postgres"]["healthcheck"]["test"]))
    assert services["redis"]["image"].startswith("redis:7")
    assert "redis-cli ping" in " ".join(command_argv(services["redis"]["healthcheck"]["test"]))


def test_app_services_point_at_the_stack(services: dict[str, dict[str, Any]]) -> None:
    for name in ("migrate", *APP_SERVICES):
        env = service_env(services[name])
        assert (env.get("DATABASE_URL") or "").startswith("postgres://"), name
        assert "@postgres:5432/" in (env.get("DATABASE_URL") or ""), name
        assert env.get("REDIS_URL") == "redis://redis:6379/0", name
        assert env.get("PREDICTOR_URL") == "http://predictor:8001", name
        assert env.get("PREDICTOR_PUBLIC_URL"), name
        assert env.get("KERAS_BACKEND") == "torch", name
        assert env.get("CONSOLE_DATA_DIR") == "/data", name
        assert env.get("STORAGE_BACKEND") == "s3", name
        assert env.get("S3_ENDPOINT_URL") == "${S3_ENDPOINT_URL:-http://minio:9000}", name


def test_data_lives_in_named_volumes_and_no_process_shares_one(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    named = set(compose.get("volumes") or {})
    assert service_mounts(services["postgres"]).get("/var/lib/postgresql/data") in named
    assert service_mounts(services["redis"]).get("/data") in named
    assert service_mounts(services["minio"]).get("/data") in named
    # Files go through the object store: workers and predictors mount nothing, so each may run
    # on another machine; the web keeps a volume of its own for scratch (a request in flight).
    for name in (*APP_SERVICES, "migrate", "flower"):
        if name != "web":
            assert not services[name].get("volumes"), f"{name} mounts {services[name]['volumes']}"
    assert service_mounts(services["web"]).get("/data") in named
    owners: dict[str, list[str]] = {}
    for name, service in services.items():
        for source in service_mounts(service).values():
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
        env = service_env(service)
        if "SECRET_KEY" in env:
            value = env["SECRET_KEY"] or ""
            assert REQUIRED_SECRET_KEY.match(value), (
                f"{name} sets SECRET_KEY to {value!r}; use ${{SECRET_KEY:?...}}"
            )
        for switch in INSECURE_SWITCHES:
            assert (env.get(switch) or "").strip().lower() not in TRUTHY, f"{name} sets {switch}"
    for name in ("migrate", *APP_SERVICES):
        env = service_env(services[name])
        assert "SECRET_KEY" in env or "SECRET_KEY_FILE" in env, f"{name} gets no SECRET_KEY"


def test_redis_keeps_the_queue_across_a_restart(services: dict[str, dict[str, Any]]) -> None:
    argv = command_argv(services["redis"]["command"])
    assert argv[argv.index("--appendonly") + 1] == "yes"
    assert service_mounts(services["redis"]).get("/data")


def test_every_long_running_service_restarts(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        if name in one_shot_services(services):
            assert service.get("restart", "no") == "no", name
        else:
            assert service.get("restart") in ("unless-stopped", "always"), name


def test_flower_monitors_the_console_queues_behind_basic_auth(
    services: dict[str, dict[str, Any]],
) -> None:
    flower = services["flower"]
    argv = command_argv(flower["command"])
    assert argv[:6] == ["python", "-m", "celery", "-A", "console", "flower"]
    assert service_env(flower)["FLOWER_BASIC_AUTH"] == (
        "${FLOWER_BASIC_AUTH:?set FLOWER_BASIC_AUTH to user:password}"
    )
    assert "--url_prefix=flower" in argv
    assert "--port=5555" in argv
    assert "http://127.0.0.1:5555/flower/healthcheck" in " ".join(
        command_argv(flower["healthcheck"]["test"])
    )
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert [pin for pin in pins if pin.startswith("flower==")], pins
    # Task events, so that Flower sees tasks and not only workers.
    for name in ("worker-gpu", "worker-cpu", "worker-short"):
        assert "-E" in command_argv(services[name]["command"]), name


# --- The docs' commands against the file.

# `docker compose <verb> [options] <service>...` as the docs write it, in backticks (possibly
# wrapped over lines) or on a line of a shell block.
_COMPOSE_COMMAND = re.compile(r"`(docker compose [^`]+)`|^(docker compose .+)$", re.MULTILINE)
# Options that take a value as the next word.
_VALUED_OPTIONS = {"--scale", "-f", "--file", "-p", "--project-name", "--profile", "-e", "-u"}
# Verbs whose first operand is a service and whose other words are its command.
_ONE_SERVICE_VERBS = {"run", "exec"}


def _services_named(command: str) -> list[str]:
    words = command.split()[2:]
    verb, rest = words[0], words[1:]
    named: list[str] = []
    skip_next = False
    for word in rest:
        if skip_next:
            skip_next = False
        elif word.startswith("-"):
            skip_next = word in _VALUED_OPTIONS
        elif re.fullmatch(r"[a-z][a-z0-9_-]*", word):
            named.append(word)
            if verb in _ONE_SERVICE_VERBS:
                break
        else:
            break
    return named


def test_every_service_the_docs_name_in_a_compose_command_exists(
    services: dict[str, dict[str, Any]],
) -> None:
    # A service renamed in the file (worker -> worker-gpu) left the upgrade steps naming one
    # Compose would refuse ("no such service") in the middle of an upgrade.
    commands = []
    for doc in (ROOT / "docs" / "deploy.md", ROOT / "README.md"):
        for match in _COMPOSE_COMMAND.finditer(doc.read_text()):
            command = " ".join((match.group(1) or match.group(2)).split())
            commands.append(command.split("#")[0])
    assert len(commands) >= 8
    unknown = {c: [s for s in _services_named(c) if s not in services] for c in commands}
    unknown = {c: names for c, names in unknown.items() if names}
    assert unknown == {}
    assert "worker-gpu" in {s for c in commands for s in _services_named(c)}
