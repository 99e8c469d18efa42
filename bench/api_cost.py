"""What the web process spends on the calls of the load bench's jobs phase (bench/load.py).

    .venv/bin/python bench/api_cost.py [--calls 60] [--users 20] [--bursts 3] [--pools 0,8]
        [--handlers wsgi] [--web-processes 1,2]

One `runconsole --concurrency 2` on PostgreSQL and Redis, as bench/load.py starts it, for
each of `--pools` (the web's DB_POOL_SIZE: 0 opens a connection a request, as Django does by
default; runconsole's default is 8) and each of `--handlers` (the web's WEB_HANDLER: "wsgi",
Django's WSGI handler on a pool of threads, the default, or "asgi", Django's own ASGI
handler) and each of `--web-processes` (runconsole's; two on Redis by default). Then:
1. cost: one user makes each kind of call `--calls` times, one at a time: the web processes'
   CPU milliseconds a call (from /proc, so the machine's other load counts less than in a
   latency), the whole machine's (every process's, PostgreSQL's backends included: best on a
   quiet machine) and the p50. `GET /api/v1/jobs/budgets/` reads nothing but the token.
2. burst: `--users` users each submit one job at once, `--bursts` times, while a poller lists
   jobs and datasets as in the jobs phase: each kind of call's p50 and p99, without waiting for
   the jobs to train (the jobs phase's burst, in minutes rather than the phase's hour), and
   how busy the machine was over the bursts and with what.
The last line is one JSON object: each run's figures, and the last run's burst p99, machine
CPU and web CPU a submission over the first's.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.datasets import cpu_seconds  # noqa: E402
from bench.load import JOB_BODY, MAKE_USERS  # noqa: E402
from bench.load_api import Poller, Timer, manage, upload  # noqa: E402
from bench.load_files import table_csv  # noqa: E402
from bench.load_ws import percentile  # noqa: E402
from tests.e2e.flow import wait_dataset  # noqa: E402
from tests.stack import processes_of, running_stack  # noqa: E402


def machine_cpu_seconds() -> float:
    """Busy CPU time of the whole machine so far (/proc/stat: all but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def process_cpu() -> dict[str, float]:
    """CPU seconds so far of every process, by a short name: its command line's first words
    (a Celery worker, uvicorn's web, a PostgreSQL backend, this bench)."""
    out: dict[str, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [w.decode(errors="replace").rsplit("/", 1)[-1] for w in argv if w][:4]
        name = " ".join(w for w in words if not w.startswith("-"))[:60] or "?"
        with contextlib.suppress(OSError, IndexError):
            nice = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[16])
            name += f" (nice {nice})" if nice else ""  # training: a pool child, niced
        out[name] = out.get(name, 0.0) + cpu_seconds([int(entry.name)])
    return out


def cost(webs: list[int], calls: dict[str, Callable[[], httpx.Response]], n: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, call in calls.items():
        call()
        processes = process_cpu()
        before, machine_before = cpu_seconds(webs), machine_cpu_seconds()
        ms = []
        for _ in range(n):
            started = time.perf_counter()
            answer = call()
            ms.append((time.perf_counter() - started) * 1000)
            assert answer.status_code < 300, answer.text
        out[label] = {
            "web_cpu_ms": round((cpu_seconds(webs) - before) / n * 1000, 1),
            "machine_cpu_ms": round((machine_cpu_seconds() - machine_before) / n * 1000, 1),
            "p50_ms": percentile(ms, 50),
            # Where the machine's CPU went: milliseconds a call, the busiest five.
            "by_process_ms": dict(
                sorted(
                    (
                        (name, round((seconds - processes.get(name, 0.0)) / n * 1000, 1))
                        for name, seconds in process_cpu().items()
                    ),
                    key=lambda kv: -kv[1],
                )[:5]
            ),
        }
    return out


def burst(clients: list[httpx.Client], datasets: list[int], bursts: int) -> dict[str, Any]:
    timer = Timer()
    poller = Poller(clients, timer)
    poller.start()

    def submit(index: int) -> None:
        body = {**JOB_BODY, "dataset": datasets[index]}
        timer.call(clients[index], "POST", "/api/v1/jobs/", json=body)

    # Where the machine's CPU goes while the submissions wait: if it is all busy, the web
    # waits for cores; if the web is not, for something else.
    wall = machine = 0.0
    spent: dict[str, float] = {}
    for _ in range(bursts):
        processes, machine_before, started = process_cpu(), machine_cpu_seconds(), time.time()
        with concurrent.futures.ThreadPoolExecutor(len(clients)) as pool:
            list(pool.map(submit, range(len(clients))))
        wall += time.time() - started
        machine += machine_cpu_seconds() - machine_before
        for name, seconds in process_cpu().items():
            spent[name] = spent.get(name, 0.0) + seconds - processes.get(name, 0.0)
        time.sleep(1.5)
    poller.stop.set()
    poller.join()
    cores = os.cpu_count() or 1
    return {
        "api_p99_ms": percentile(timer.ms, 99),
        "api_p50_ms": percentile(timer.ms, 50),
        "api_by_call": timer.breakdown(),
        "api_5xx": timer.server_errors,
        # The machine's busy share of its cores over the bursts, and the busiest processes'
        # share of it (a niced Celery process is a pool child training a job).
        "burst_machine_busy_pct": round(machine / (wall * cores) * 100, 1),
        "burst_cpu_share_pct": {
            name: round(seconds / max(machine, 1e-9) * 100, 1)
            for name, seconds in sorted(spent.items(), key=lambda kv: -kv[1])[:6]
        },
    }


def measure(args: argparse.Namespace, pool: int, handler: str, webs: int) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="bench-api-") as tmp,
        running_stack(
            "postgres",
            Path(tmp),
            extra_env={"DB_POOL_SIZE": str(pool), "WEB_HANDLER": handler},
            extra_args=("--concurrency", "2", "--web-processes", str(webs)),
        ) as stack,
    ):
        made = manage(stack, MAKE_USERS.format(count=args.users))
        tokens = [line.split()[2] for line in made.splitlines() if line.startswith("TOKEN ")]
        clients = [
            httpx.Client(base_url=stack.url, timeout=120, headers={"Authorization": f"Token {t}"})
            for t in tokens
        ]
        datasets = []
        for index, client in enumerate(clients):
            sent = upload(client, f"table{index}.csv", table_csv(seed=index))
            assert sent is not None
            assert sent.status_code == 201, sent.text
            datasets.append(int(sent.json()["id"]))
        for client, pk in zip(clients, datasets, strict=True):
            assert wait_dataset(client, pk)["status"] == "READY"
        web_pids = processes_of(stack, b"console.asgi")
        first, dataset = clients[0], datasets[0]
        calls = {
            "GET /api/v1/jobs/budgets/": lambda: first.get("/api/v1/jobs/budgets/"),
            "POST /api/v1/jobs/": lambda: first.post(
                "/api/v1/jobs/", json={**JOB_BODY, "dataset": dataset}
            ),
            "GET /api/v1/jobs/": lambda: first.get("/api/v1/jobs/?limit=10"),
            "GET /api/v1/datasets/": lambda: first.get("/api/v1/datasets/?limit=10"),
        }
        summary = {
            "db_pool_size": pool,
            "web_handler": handler,
            "web_processes": webs,
            "cost": cost(web_pids, calls, args.calls),
            "burst": burst(clients, datasets, args.bursts),
            "load_average": [round(x, 2) for x in os.getloadavg()],
        }
        print(json.dumps(summary), flush=True)
        return summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--bursts", type=int, default=3)
    parser.add_argument("--pools", default="0,8", help="the web's DB_POOL_SIZE values to run")
    parser.add_argument("--handlers", default="wsgi", help="the web's WEB_HANDLER values to run")
    parser.add_argument(
        "--web-processes", default="2", help="runconsole's numbers of web processes to run"
    )
    args = parser.parse_args()
    runs = [
        measure(args, int(pool), handler, int(webs))
        for pool in args.pools.split(",")
        for handler in args.handlers.split(",")
        for webs in args.web_processes.split(",")
    ]
    first, last = runs[0], runs[-1]
    post = "POST /api/v1/jobs/"
    print(
        json.dumps(
            {
                "runs": runs,
                "burst_p99_ratio": round(
                    last["burst"]["api_p99_ms"] / max(first["burst"]["api_p99_ms"], 1e-9), 3
                ),
                "post_machine_cpu_ratio": round(
                    last["cost"][post]["machine_cpu_ms"]
                    / max(first["cost"][post]["machine_cpu_ms"], 1e-9),
                    3,
                ),
                "post_web_cpu_ratio": round(
                    last["cost"][post]["web_cpu_ms"] / max(first["cost"][post]["web_cpu_ms"], 1e-9),
                    3,
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
