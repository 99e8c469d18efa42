from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from console.supervisor import Program, Supervisor
from console.webserver import SERVER_GRACE_SECONDS, Loads


def _gpu_present() -> bool:
    """torch.cuda.is_available(), asked in a short-lived process so that this supervisor
    neither holds torch in memory nor touches CUDA; skipped without a GPU kernel driver."""
    if not (Path("/proc/driver/nvidia").exists() or Path("/dev/kfd").exists()):
        return False
    code = "import torch; print(torch.cuda.is_available())"
    try:
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
        )
    except subprocess.TimeoutExpired:
        return False
    return out.stdout.strip() == "True"


def _worker_queues() -> list[str]:
    """The default queue, plus gpu when this machine has a GPU; without one, gpu jobs wait
    (and the API says so) rather than train on the CPU they did not ask for."""
    # Jobs name "cpu" or "gpu" themselves; profiling has its own worker (SHORT_QUEUE).
    queues = dict.fromkeys([settings.CELERY_TASK_DEFAULT_QUEUE, "cpu"])
    if _gpu_present():
        queues["gpu"] = None
    return list(queues)


# How long the supervisor waits for every process after SIGTERM before SIGKILL: the servers'
# grace, and a training worker's next batch and hand-back of its job (jobs/worker_shutdown.py),
# with room for a loaded machine.
STOP_TIMEOUT_SECONDS = 30


# Connections the web keeps for its request threads: about what two cores can keep busy; a
# burst's other requests wait their turn for one (DB_POOL_TIMEOUT_S) rather than each opening
# its own. Set DB_POOL_SIZE=0 to open one a request, as before.
WEB_DB_POOL_SIZE = 8


# The command lines are functions so that the scale-out test (tests/stack.py) starts each
# process exactly as here, one at a time and each with its own environment.
_WEB = [sys.executable, "-m", "console.webserver", "console.asgi:application"]


def web_argv(host: str, port: int) -> list[str]:
    """The web process (UI, REST API and websockets) on a port of its own."""
    return [*_WEB, "--host", host, "--port", str(port)]


def web_fd_argv(fd: int, loads: int | None = None, slot: int = 0) -> list[str]:
    """A web process serving the listening socket it inherits as `fd` (listen() below); with
    more than one, each has a `slot` in the table of their connections (`loads`), and the one
    with the fewest takes a new connection (console/webserver.py)."""
    shared = [] if loads is None else ["--loads", str(loads), "--slot", str(slot)]
    return [*_WEB, "--fd", str(fd), *shared]


def listen(host: str, port: int) -> socket.socket:
    """The web's listening socket, made once and handed to every web process (and to each
    restart): connections wait in its queue for whichever process is free."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock  # inherited only by the processes whose Program passes it (pass_fds)


def web_processes(requested: int | None) -> int:
    """Two web processes (a burst of API calls on two cores) where they share their sign-in
    counts and throttles through Redis; one on the embedded default, whose cache is each
    process's own memory (two would each allow the whole sign-in limit)."""
    if requested:
        return requested
    return 1 if settings.EMBEDDED else min(2, os.cpu_count() or 1)


def predictor_argv(host: str, port: int) -> list[str]:
    """A predictor replica (run it with DJANGO_SETTINGS_MODULE=console.predictor_settings)."""
    return [
        sys.executable, "-m", "uvicorn", "console.predictor_asgi:application",
        "--host", host, "--port", str(port), "--lifespan", "on",
        # The lean path: one process with one event loop and one inference thread;
        # no access log line per request (it costs more than a batched prediction).
        "--loop", "uvloop", "--http", "console.predictor_protocol:NoDelayProtocol",
        "--no-access-log", "--backlog", "4096",
        "--timeout-graceful-shutdown", str(SERVER_GRACE_SECONDS),
    ]  # fmt: skip


def celery_worker_argv(queues: str, concurrency: int, name: str) -> list[str]:
    """A Celery worker on these queues; each child runs one task, so its memory goes back."""
    return [
        sys.executable, "-m", "celery", "-A", "console", "worker", "-Q", queues,
        "--concurrency", str(concurrency), "--loglevel", "INFO",
        "--max-tasks-per-child", "1", "-n", name,
    ]  # fmt: skip


class Command(BaseCommand):
    help = (
        "Start the web, worker and predictor processes and keep them up: one that dies is "
        "restarted with back-off while the others carry on; SIGTERM or Ctrl-C stops all."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--predictor-port", type=int, default=8001)
        parser.add_argument("--concurrency", type=int, default=1)
        parser.add_argument(
            "--web-processes",
            type=int,
            default=None,
            help="web processes sharing the port (default: 2 with Redis on 2+ cores, else 1)",
        )
        parser.add_argument(
            "--short-concurrency",
            type=int,
            default=2,
            help="processes of the worker for short tasks (profiling), beside the training one",
        )
        parser.add_argument(
            "--restart-delay", type=float, default=1.0, help="first restart delay, seconds"
        )
        parser.add_argument(
            "--max-restart-delay", type=float, default=30.0, help="restart delay cap, seconds"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        host = options["host"]
        (settings.DATA_DIR / "broker" / "processed").mkdir(parents=True, exist_ok=True)
        # Its database, datasets, models and first sign-in are the console's alone: no other
        # account on the machine may read or list them, whatever the umask made them.
        settings.DATA_DIR.chmod(0o700)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.setdefault("PREDICTOR_URL", f"http://{host}:{options['predictor_port']}")
        try:
            listener = listen(host, options["port"])
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{options['port']}: {exc}") from exc
        webs = web_processes(options["web_processes"])
        commands = {
            "predictor": predictor_argv(host, options["predictor_port"]),
            "worker": celery_worker_argv(
                ",".join(_worker_queues()), options["concurrency"], f"worker-{os.getpid()}@%h"
            ),
            # Its own process, not one more queue of the training worker: Celery has one pool
            # per worker, so a pool slot busy training for hours would hold up every upload.
            # One task per child, as for jobs: a profile's memory goes back when it ends.
            "worker-short": celery_worker_argv(
                settings.SHORT_QUEUE, options["short_concurrency"], f"short-{os.getpid()}@%h"
            ),
        }
        envs = {
            # Pooled database connections for the web's request threads (console/settings.py).
            "web": {**env, "DB_POOL_SIZE": env.get("DB_POOL_SIZE") or str(WEB_DB_POOL_SIZE)},
            "worker": env,
            "worker-short": env,
            "predictor": {**env, "DJANGO_SETTINGS_MODULE": "console.predictor_settings"},
        }
        for name, program_env in envs.items():
            envs[name] = {**program_env, "DB_APPLICATION_NAME": f"console-{name}"}
        # Every web process serves the one listening socket, and so does each restart, which
        # takes the slot of the process it replaces.
        loads = None if webs == 1 else Loads.create(webs)
        programs = [
            Program(
                "web" if webs == 1 else f"web-{n}",
                web_fd_argv(listener.fileno(), loads, n - 1),
                envs["web"],
                pass_fds=(listener.fileno(),) if loads is None else (listener.fileno(), loads),
            )
            for n in range(1, webs + 1)
        ]
        programs += [Program(name, cmd, envs[name]) for name, cmd in commands.items()]
        supervisor = Supervisor(
            programs,
            # Closed first when stopping: once the web processes have let go of it too, new
            # connections are refused rather than left waiting for a server that is leaving.
            listeners=[listener],
            log=lambda line: self.stderr.write(line),
            base_delay=options["restart_delay"],
            max_delay=options["max_restart_delay"],
            stop_timeout=STOP_TIMEOUT_SECONDS,
        )
        signal.signal(signal.SIGTERM, supervisor.request_stop)
        signal.signal(signal.SIGINT, supervisor.request_stop)
        self.stdout.write(
            self.style.SUCCESS(
                f"Console at http://{host}:{options['port']}/ "
                f"(predictor http://{host}:{options['predictor_port']}/, "
                f"{'embedded' if settings.EMBEDDED else 'PostgreSQL + Redis'} mode)"
            )
        )
        supervisor.run()
