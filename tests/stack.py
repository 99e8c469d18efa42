"""Starts the real console (web, worker, predictor) in subprocesses, as `make run` does."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import redis

from console.management.commands import runconsole

ROOT = Path(__file__).resolve().parent.parent
# 15 is the in-process tests'. STACK_REDIS_DBS (say "7,8") keeps two test runs on one machine
# (two checkouts) from flushing and serving each other's queues.
_REDIS_DBS = [int(n) for n in os.environ.get("STACK_REDIS_DBS", "10,11,12,13,14").split(",")]
_REDIS_IN_USE: set[int] = set()

ADMIN_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
SQLITE_NAME = "console.sqlite3"  # the embedded default's database, in CONSOLE_DATA_DIR


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    mode: str
    url: str
    predictor_url: str
    data_dir: Path
    env: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)
    pid: int = 0  # of `runconsole`, the parent of web, worker and predictor
    process: subprocess.Popen[bytes] | None = None  # `runconsole` itself
    passwords: dict[str, str] = field(default_factory=dict)

    def client(self, user: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Token {self.tokens[user]}"} if user else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://")

    def add_user(self, name: str) -> None:
        """Another user with a password and a (legacy) token, for a test whose datasets,
        models and deployments must not meet the other tests' on this shared stack."""
        if name in self.tokens:
            return
        made = _manage(self.env, "shell", "-c", _MAKE_USER.format(name=name))
        key = next(r.split()[1] for r in made.splitlines() if r.startswith("TOKEN "))
        self.tokens[name] = key
        self.passwords[name] = f"{name}-Passw0rd!"


def _manage(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if out.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout


_MAKE_USERS = """
from django.contrib.auth import get_user_model
from console.tokens import token_create
User = get_user_model()
for name in ("owner", "teammate", "outsider"):
    user = User.objects.create_user(name, password=name + "-Passw0rd!")
    print("TOKEN", name, token_create(user=user, name="tests").raw)
"""


_MAKE_USER = """
from django.contrib.auth import get_user_model
from console.tokens import token_create
user = get_user_model().objects.create_user("{name}", password="{name}-Passw0rd!")
print("TOKEN", token_create(user=user, name="tests").raw)
"""


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the console exited early:\n{log.read_text()[-4000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up:\n{log.read_text()[-4000:]}")


def _base_env(data_dir: Path, extra_env: dict[str, str] | None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        CONSOLE_EMBEDDED="1",
        FAST_PASSWORD_HASHER="1",
        CONSOLE_DATA_DIR=str(data_dir),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra_env or {})
    return env


@dataclass
class _Template:
    """A migrated database holding the three personas, made once per test run and copied for
    each stack (PostgreSQL's CREATE DATABASE ... TEMPLATE, a copied SQLite file): well under
    a second each, against 15-20 s on two cores for migrating and making the users again."""

    tokens: dict[str, str]
    database: str = ""  # PostgreSQL's
    sqlite: Path | None = None  # the embedded default's file


_TEMPLATES: dict[str, _Template] = {}


def _template(mode: str) -> _Template:
    found = _TEMPLATES.get(mode)
    if found is not None:
        return found
    folder = Path(tempfile.mkdtemp(prefix=f"automl-e2e-{mode}-"))
    atexit.register(shutil.rmtree, folder, True)
    env = _base_env(folder, None)
    made = _Template({})
    if mode == "postgres":
        made.database = f"automl_e2e_template_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(ADMIN_PG_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{made.database}"')
        atexit.register(_drop_database, made.database)
        env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{made.database}"
    else:
        made.sqlite = folder / SQLITE_NAME
    _manage(env, "migrate", "--noinput")
    for row in _manage(env, "shell", "-c", _MAKE_USERS).splitlines():
        if row.startswith("TOKEN "):
            _, name, key = row.split()
            made.tokens[name] = key
    _TEMPLATES[mode] = made
    return made


def _drop_database(name: str) -> None:
    with psycopg.connect(ADMIN_PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def _own_database(env: dict[str, str]) -> Iterator[None]:
    """A fresh PostgreSQL database and Redis index for one stack, named in `env`; dropped after."""
    db_name = f"automl_e2e_{uuid.uuid4().hex[:10]}"
    template = _template("postgres").database
    # Stacks can be up at the same time (the session's and a module's): each gets its own
    # Redis database, so no worker takes another stack's tasks. The first index no running
    # stack holds: the session's stays up while modules' come and go (taking them in turn
    # once gave a module the session stack's index, and its tasks to the session's workers).
    free = [n for n in _REDIS_DBS if n not in _REDIS_IN_USE]
    assert free, f"every Redis index in STACK_REDIS_DBS is held by a running stack: {_REDIS_DBS}"
    redis_db = free[0]
    _REDIS_IN_USE.add(redis_db)
    try:
        with psycopg.connect(ADMIN_PG_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{db_name}" TEMPLATE "{template}"')
        redis.Redis.from_url(f"redis://127.0.0.1:6379/{redis_db}").flushdb()
        env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{db_name}"
        env["REDIS_URL"] = f"redis://127.0.0.1:6379/{redis_db}"
        env["CHANNEL_PREFIX"] = f"e2e{db_name}"
        yield
    finally:
        _REDIS_IN_USE.discard(redis_db)
        _drop_database(db_name)


def _copy_template(stack: Stack) -> None:
    """The stack's database, migrated and holding the personas: a copy of the run's template."""
    template = _template(stack.mode)
    if template.sqlite is not None:
        stack.data_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template.sqlite, stack.data_dir / SQLITE_NAME)
    for name, key in template.tokens.items():
        stack.tokens[name] = key
        stack.passwords[name] = f"{name}-Passw0rd!"


def embedded_env(data_dir: Path, extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of one console process on the embedded default (SQLite, the filesystem
    broker), its database a copy of the run's migrated template: for a test that starts a
    single process of its own rather than a whole stack."""
    env = _base_env(data_dir, extra_env)
    _copy_template(Stack(mode="embedded", url="", predictor_url="", data_dir=data_dir, env=env))
    return env


def _start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        # A session of its own, so that the process and whatever it forks stop by group.
        return subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _kill(proc: subprocess.Popen[bytes] | None) -> None:
    """A stack at its tests' end: the process and everything under it at once. A graceful
    stop waits for a busy worker's task (5-30 s a stack, minutes a test run) and is tested
    where it matters, by signalling each process (tests/e2e/test_graceful_shutdown.py,
    tests/console/test_runconsole.py)."""
    if proc is None or proc.poll() is not None:
        return
    # Listed first, then the parent killed (so that it restarts nothing), then each child's
    # process group (each runs in a session of its own, with its pool under it).
    below = children(proc.pid)
    for pid in (proc.pid, *below):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    proc.wait()


@contextlib.contextmanager
def running_stack(
    mode: str,
    data_dir: Path,
    extra_env: dict[str, str] | None = None,
    extra_args: tuple[str, ...] = (),
) -> Iterator[Stack]:
    """`runconsole` (web, workers, predictor) on a database of its own; `extra_args` go to
    runconsole (more worker processes, say)."""
    env = _base_env(data_dir, extra_env)
    port, predictor_port = free_port(), free_port()
    log = data_dir / "console.log"
    proc: subprocess.Popen[bytes] | None = None
    with contextlib.ExitStack() as database:
        if mode == "postgres":
            database.enter_context(_own_database(env))
        try:
            stack = Stack(
                mode=mode,
                url=f"http://127.0.0.1:{port}",
                predictor_url=f"http://127.0.0.1:{predictor_port}",
                data_dir=data_dir,
                env=env,
            )
            _copy_template(stack)
            proc = _start(
                [
                    sys.executable,
                    "manage.py",
                    "runconsole",
                    "--port",
                    str(port),
                    "--predictor-port",
                    str(predictor_port),
                    *extra_args,
                ],
                env,
                log,
            )
            stack.pid = proc.pid
            stack.process = proc
            _wait_http(f"{stack.url}/healthz", proc, log)
            _wait_http(f"{stack.predictor_url}/healthz", proc, log)
            yield stack
        finally:
            _kill(proc)


@dataclass
class ScaleOut:
    """Web processes, several workers and predictor replicas, as on several machines."""

    stack: Stack  # the first web; its predictor_url is the first replica's
    predictor_urls: list[str]
    data_dirs: dict[str, Path]  # process name -> its own CONSOLE_DATA_DIR, shared with none
    processes: dict[str, subprocess.Popen[bytes]]
    logs: dict[str, Path]
    # Every web replica's address, the first one's (`stack.url`) first.
    web_urls: list[str] = field(default_factory=list)

    def log_tails(self) -> str:
        return "\n".join(f"--- {n}\n{p.read_text()[-3000:]}" for n, p in self.logs.items())


@contextlib.contextmanager
def running_scaleout(
    root: Path,
    shared_env: dict[str, str],
    workers: dict[str, str],
    predictors: int = 2,
    webs: int = 1,
) -> Iterator[ScaleOut]:
    """`webs` web replicas ("web", "web2", ...), the named workers (name -> comma-separated
    queues) and `predictors` replicas, each started alone with a CONSOLE_DATA_DIR of its own
    under `root`, on one fresh PostgreSQL database and Redis index: what they share is only
    what `shared_env` names (the storage)."""
    env = _base_env(root / "manage", shared_env)
    web_ports = [free_port() for _ in range(webs)]
    web_port = web_ports[0]
    predictor_ports = [free_port() for _ in range(predictors)]
    predictor_urls = [f"http://127.0.0.1:{p}" for p in predictor_ports]
    web_names = ["web", *(f"web{n}" for n in range(2, webs + 1))]
    argvs: dict[str, list[str]] = {
        name: runconsole.web_argv("127.0.0.1", port)
        for name, port in zip(web_names, web_ports, strict=True)
    }
    for name, queues in workers.items():
        argvs[name] = runconsole.celery_worker_argv(queues, 1, f"{name}@%h")
    for index, port in enumerate(predictor_ports, start=1):
        argvs[f"predictor{index}"] = runconsole.predictor_argv("127.0.0.1", port)
    processes: dict[str, subprocess.Popen[bytes]] = {}
    with _own_database(env):
        try:
            (root / "manage").mkdir(parents=True, exist_ok=True)
            stack = Stack(
                mode="postgres",
                url=f"http://127.0.0.1:{web_port}",
                predictor_url=predictor_urls[0] if predictor_urls else "",
                data_dir=root / "web",
                env=env,
            )
            _copy_template(stack)
            out = ScaleOut(
                stack,
                predictor_urls,
                {},
                processes,
                {},
                [f"http://127.0.0.1:{p}" for p in web_ports],
            )
            for name, argv in argvs.items():
                data_dir = root / name
                data_dir.mkdir(parents=True, exist_ok=True)
                own = {**env, "CONSOLE_DATA_DIR": str(data_dir)}
                if predictor_urls:
                    own["PREDICTOR_URL"] = predictor_urls[0]
                if name.startswith("predictor"):
                    own["DJANGO_SETTINGS_MODULE"] = "console.predictor_settings"
                # The log sits beside the data folder, so that the folder holds only what the
                # process itself wrote there.
                out.logs[name] = root / f"{name}.log"
                out.data_dirs[name] = data_dir
                processes[name] = _start(argv, own, out.logs[name])
            stack.pid = processes["web"].pid
            stack.process = processes["web"]
            for name, url in zip(web_names, out.web_urls, strict=True):
                _wait_http(f"{url}/healthz", processes[name], out.logs[name])
            for index, url in enumerate(predictor_urls, start=1):
                name = f"predictor{index}"
                _wait_http(f"{url}/healthz", processes[name], out.logs[name])
            yield out
        finally:
            for proc in processes.values():
                _kill(proc)


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def processes_of(stack: Stack, needle: bytes) -> list[int]:
    """The pids of runconsole's children whose command lines contain `needle`."""
    found = []
    for pid in children(stack.pid):
        with contextlib.suppress(FileNotFoundError):
            if needle in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
    return found


def process_of(stack: Stack, needle: bytes) -> int | None:
    """The pid of runconsole's child whose command line contains `needle`, if one runs now."""
    return next(iter(processes_of(stack, needle)), None)


def tcp_sockets() -> list[tuple[int, int, str, str]]:
    """Every IPv4 TCP socket: (local port, remote port, state, inode), from /proc/net/tcp."""
    out = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = (int(a.rsplit(":", 1)[1], 16) for a in fields[1:3])
        out.append((local, remote, fields[3], fields[9]))
    return out


def sockets_held(pid: int, inodes: set[str]) -> int:
    """How many of the process's descriptors are on these sockets (by inode)."""
    held = 0
    with contextlib.suppress(FileNotFoundError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd).removeprefix("socket:[").removesuffix("]") in inodes:
                    held += 1
    return held
