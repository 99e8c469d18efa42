"""Load, soak, live progress and hostile uploads against the real console (issue 10).

    .venv/bin/python bench/load.py [--users 20] [--jobs 200] [--soak-seconds 600]
        [--watchers 500] [--fanout-seconds 60] [--fanout-rate 50] [--hostile-rounds 1]
        [--fanout-processes 2] [--phases jobs,fanout,soak,hostile] [--web-processes N]

One run, on PostgreSQL and Redis (a database and a Redis index of its own, as the tests'
stacks): `runconsole --concurrency 2` (its web processes, two on Redis unless
`--web-processes` says otherwise, two training worker processes, a short-task worker, a
predictor). Phases:
1. jobs: `--users` users each upload a small table; `--jobs` jobs (one trial of two epochs
   each) are then submitted at once, spread evenly over the users, while a poller times the
   web API (job and dataset lists, job details) as those users. Every job must end
   SUCCEEDED; a job is duplicated when a trial number repeats, it ran more trials than asked,
   or it registered more than one version. Fairness: how long each user waited for a first
   job to start.
2. fanout: `--watchers` websocket clients of the web (`--web-processes 1`: of one web process,
   as the issue asks; with two, the socket's queue shares them out), in `--fanout-processes`
   processes, watch one job while another process records `--fanout-rate` events a second on
   it for `--fanout-seconds`; each client must receive every event, once, in order. Also
   reported: each event's delay (p50, p99), the CPU seconds of the web process, the watchers'
   processes and Redis over the run, and the load average.
3. soak: for `--soak-seconds`, mixed traffic: uploads, job submissions, websocket watchers of
   those jobs (their epoch events, emitted by the workers, time `live_p99_ms`), and
   predictions to the predictor and through the web's door. The resident memory of each
   long-lived process (web, predictor, worker parents, runconsole) is compared between the
   start (after a warm-up) and the end; no answer may be a 5xx.
4. hostile: the files of bench/load_files.py uploaded 20 at a time while another user keeps
   listing, uploading and predicting: each must be refused (4xx) or end FAILED with a reason;
   the largest resident memory of any console process is recorded, and each process's by its
   place under runconsole; the other user gets no 5xx.
`--phases` runs some of them: soak and hostile need the jobs phase (they deploy one of its
models); the fan-out alone watches a job submitted and cancelled for it.
The last line is one JSON object with the keys the issue names.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.datasets import cpu_seconds, rss_mb  # noqa: E402
from bench.load_api import Poller, Timer, manage, results, upload  # noqa: E402
from bench.load_files import hostile_files, table_csv  # noqa: E402
from bench.load_procs import PeakMemory, long_lived, redis_server, system_seconds  # noqa: E402
from bench.load_ws import WatcherProcesses, Watchers, percentile, report, run_watchers  # noqa: E402
from tests.e2e.flow import wait_dataset  # noqa: E402
from tests.stack import Stack, processes_of, running_stack  # noqa: E402

TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")
PHASES = ("jobs", "fanout", "soak", "hostile")
MAX_TRIALS = 1
JOB_BODY = {"target": "label", "max_trials": MAX_TRIALS, "max_epochs": 2, "tuner": "random"}

MAKE_USERS = """
from django.contrib.auth.models import User
from console.tokens import token_create
for i in range({count}):
    user = User.objects.create_user(f"load{{i}}", password=f"load{{i}}-Passw0rd!")
    print("TOKEN", user.username, token_create(user=user, name="load").raw)
"""

_EMIT = """
import time
from jobs.models import TrainingJob
from jobs.services.events import event_record
job = TrainingJob.objects.get(pk={job})
first = last = None
start = time.monotonic()
for i in range({count}):
    event = event_record(subject=job, kind="bench_tick", payload={{"i": i}})
    first = first or event.seq
    last = event.seq
    delay = start + (i + 1) / {rate} - time.monotonic()
    if delay > 0:
        time.sleep(delay)
print("SEQ", first, last, round(time.monotonic() - start, 2))
"""


def phase_jobs(stack: Stack, clients: list[httpx.Client], jobs: int) -> dict[str, Any]:
    datasets = []
    for index, client in enumerate(clients):
        sent = upload(client, f"table{index}.csv", table_csv(seed=index))
        assert sent is not None
        assert sent.status_code == 201, sent.text
        datasets.append(sent.json()["id"])
    for client, pk in zip(clients, datasets, strict=True):
        assert wait_dataset(client, pk)["status"] == "READY"
    timer = Timer()
    poller = Poller(clients, timer)
    poller.start()
    submitted: list[tuple[int, int]] = []  # (user index, job id)
    started = time.time()

    def submit(index: int) -> list[tuple[int, int]]:
        made = []
        for _ in range(jobs // len(clients) + (index < jobs % len(clients))):
            answer = timer.call(
                clients[index],
                "POST",
                "/api/v1/jobs/",
                json={**JOB_BODY, "dataset": datasets[index]},
            )
            if answer is not None and answer.status_code == 201:
                made.append((index, answer.json()["id"]))
        return made

    with concurrent.futures.ThreadPoolExecutor(len(clients)) as pool:
        for batch in pool.map(submit, range(len(clients))):
            submitted += batch
    finished: dict[int, dict[str, Any]] = {}
    deadline = time.monotonic() + 60 * 60
    while len(finished) < len(submitted) and time.monotonic() < deadline:
        for index, client in enumerate(clients):
            for job in results(client.get("/api/v1/jobs/?limit=100")):
                if job["status"] in TERMINAL and job["id"] not in finished:
                    finished[job["id"]] = {**job, "user": index}
        time.sleep(2)
    poller.stop.set()
    poller.join()
    duplicated = 0
    for job_id, job in finished.items():
        trials = results(clients[job["user"]].get(f"/api/v1/jobs/{job_id}/trials/"))
        numbers = [t["number"] for t in trials]
        if len(numbers) != len(set(numbers)) or len(numbers) > MAX_TRIALS:
            duplicated += 1
    versions: Counter[int] = Counter()
    for client in clients:
        for version in results(client.get("/api/v1/model-versions/?limit=100")):
            if version.get("job"):
                versions[version["job"]] += 1
    duplicated += sum(1 for n in versions.values() if n > 1)
    first_start: dict[int, float] = {}
    for job in finished.values():
        if job.get("started_at"):
            at = _timestamp(job["started_at"]) - started
            first_start[job["user"]] = min(first_start.get(job["user"], at), at)
    completed = sum(1 for j in finished.values() if j["status"] == "SUCCEEDED")
    return {
        "jobs_submitted": len(submitted),
        "jobs_completed": completed,
        "jobs_failed": sum(1 for j in finished.values() if j["status"] == "FAILED"),
        "jobs_duplicated": duplicated,
        "api_p99_ms": percentile(timer.ms, 99),
        "api_p50_ms": percentile(timer.ms, 50),
        "api_calls": len(timer.ms),
        "api_by_call": timer.breakdown(),
        "api_5xx": timer.server_errors,
        "api_transport_failures": dict(timer.failure_kinds),  # no answer at all, by kind
        "jobs_wall_s": round(time.time() - started, 1),
        "first_start_max_s": round(max(first_start.values(), default=0.0), 1),
        "first_start_min_s": round(min(first_start.values(), default=0.0), 1),
        "users_never_started": len(clients) - len(first_start),
        # The fan-out's watchers are the first user's: one of that user's jobs, not any one.
        "first_user_job": min(pk for index, pk in submitted if index == 0),
    }


def _timestamp(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def phase_fanout(
    stack: Stack, token: str, job_id: int, watchers: int, seconds: int, rate: int, processes: int
) -> dict[str, Any]:
    group = WatcherProcesses(f"{stack.ws_url}/ws/jobs/{job_id}/", token, watchers, processes)
    deadline = time.monotonic() + 120
    while not group.all_connected() and time.monotonic() < deadline:
        time.sleep(0.5)
    previous: list[int] = []
    while (counts := group.counts()) != previous and time.monotonic() < deadline:
        previous = counts
        time.sleep(1.0)
    group.live_after(max((s for s in group.last_seqs() if s is not None), default=0))
    # Whose CPU the fan-out takes, to tell the web process's limit from the generator's own;
    # CPU seconds, since on a shared machine a share of the cores says more of the others.
    webs = processes_of(stack, b"console.asgi")
    watched = (webs, group.pids, [redis_server()])
    cpu_before = [cpu_seconds(pids) for pids in watched]
    web_system = sum(system_seconds(web) for web in webs)
    out = manage(
        stack, _EMIT.format(job=job_id, count=seconds * rate, rate=rate), timeout=seconds * 10 + 120
    )
    _, first, last, took = next(line for line in out.splitlines() if line.startswith("SEQ")).split()
    # Until every client has the last event, or 30 s more.
    settle = time.monotonic() + 30
    while time.monotonic() < settle:
        if all(seq is None or seq >= int(last) for seq in group.last_seqs()):
            break
        time.sleep(0.5)
    web_cpu, generator_cpu, redis_cpu = (
        round(cpu_seconds(pids) - before, 1)
        for pids, before in zip(watched, cpu_before, strict=True)
    )
    return {
        **report(group.finish(), int(first), int(last)),
        "emit_seconds": float(took),
        "events": int(last) - int(first) + 1,
        "generator_processes": processes,
        "web_cpu_s": web_cpu,
        # The kernel's part: one send() a frame a watcher.
        "web_system_cpu_s": round(sum(system_seconds(w) for w in webs) - web_system, 1),
        "generator_cpu_s": generator_cpu,
        "redis_cpu_s": redis_cpu,
        "load_average_1m": round(os.getloadavg()[0], 1),
    }


def cancelled_job(client: httpx.Client) -> int:
    """A job of the client's own for the fan-out alone: submitted and cancelled at once, so no
    worker trains it while the watchers are timed."""
    sent = upload(client, "fanout.csv", table_csv(seed=0))
    assert sent is not None
    assert sent.status_code == 201, sent.text
    assert wait_dataset(client, sent.json()["id"])["status"] == "READY"
    answer = client.post("/api/v1/jobs/", json={**JOB_BODY, "dataset": sent.json()["id"]})
    assert answer.status_code == 201, answer.text
    job_id = int(answer.json()["id"])
    assert client.post(f"/api/v1/jobs/{job_id}/cancel/").status_code == 202
    deadline = time.monotonic() + 120
    while client.get(f"/api/v1/jobs/{job_id}/").json()["status"] not in TERMINAL:
        assert time.monotonic() < deadline, "the cancelled job did not end"
        time.sleep(0.5)
    return job_id


def deploy_one(client: httpx.Client) -> str:
    version = results(client.get("/api/v1/model-versions/?limit=1"))[0]["id"]
    answer = client.post(f"/api/v1/model-versions/{version}/deploy/", json={})
    assert answer.status_code == 201, answer.text
    name = str(answer.json()["name"])
    deadline = time.monotonic() + 120
    while client.get(f"/api/v1/deployments/{name}/").json()["status"] != "READY":
        assert time.monotonic() < deadline, "the deployment did not become READY"
        time.sleep(0.5)
    return name


INSTANCE = {"x0": 0.1, "x1": -0.3, "x2": 1.0, "x3": 0.0, "x4": 0.5, "colour": "red"}


def phase_soak(
    stack: Stack, clients: list[httpx.Client], tokens: list[str], deployment: str, seconds: int
) -> dict[str, Any]:
    timer = Timer()
    stop = threading.Event()
    watchers: list[Watchers] = []
    threads: list[threading.Thread] = []
    dataset = results(clients[0].get("/api/v1/datasets/?limit=1"))[0]["id"]
    predictor = httpx.Client(
        base_url=stack.predictor_url, timeout=30, headers={"Authorization": f"Token {tokens[0]}"}
    )

    def predictions() -> None:
        path = f"/v1/deployments/{deployment}/predict"
        door = f"/api/v1/deployments/{deployment}/predict/"
        while not stop.is_set():
            timer.call(predictor, "POST", path, json={"instances": [INSTANCE]})
            timer.call(clients[0], "POST", door, json={"instances": [INSTANCE]})
            stop.wait(0.05)

    def uploads() -> None:
        n = 0
        while not stop.wait(10):
            n += 1
            upload(clients[1], f"soak{n}.csv", table_csv(rows=200, seed=1000 + n), timer)

    def jobs() -> None:
        while not stop.wait(15):
            made = timer.call(
                clients[0],
                "POST",
                "/api/v1/jobs/",
                json={**JOB_BODY, "max_epochs": 8, "dataset": dataset},
            )
            if made is not None and made.status_code == 201:
                group = Watchers(f"{stack.ws_url}/ws/jobs/{made.json()['id']}/", tokens[0], 3)
                group.live_after.append(0)
                watchers.append(group)
                thread = threading.Thread(target=run_watchers, args=(group,), daemon=True)
                thread.start()
                threads.append(thread)

    def reads() -> None:
        while not stop.wait(0.2):
            timer.call(random.choice(clients), "GET", "/api/v1/jobs/?limit=10")

    workers = [threading.Thread(target=f, daemon=True) for f in (predictions, uploads, jobs, reads)]
    for thread in workers:
        thread.start()
    warmup = min(60.0, seconds / 5)
    time.sleep(warmup)
    lived = long_lived(stack.pid)
    before = {pid: rss_mb(pid) for pid in lived}
    time.sleep(max(0.0, seconds - warmup))
    after = {pid: rss_mb(pid) for pid in lived}
    stop.set()
    for thread in workers:
        thread.join(timeout=60)
    time.sleep(3)
    for group in watchers:
        group.finish()
    for thread in threads:
        thread.join(timeout=10)
    growth = {
        lived[pid]: round((after[pid] - before[pid]) / before[pid] * 100, 1)
        for pid in lived
        if before[pid] and after.get(pid)
    }
    watched = [c for g in watchers for c in g.clients]
    timed = [pair for c in watched for pair in zip(c.kinds, c.delays_ms, strict=False)]
    # The workers' epoch events, as the issue times them. The rest include the job's first
    # event, recorded before its watchers connect and replayed to them: how long connecting
    # took, not how long an event took to arrive.
    delays = [d for kind, d in timed if kind == "epoch_end"]
    every = [d for _, d in timed]
    return {
        "soak_rss_growth_pct": max(growth.values(), default=None),
        "soak_growth_by_process": growth,
        "soak_rss_mb_after": {lived[p]: round(v) for p, v in after.items()},
        "soak_5xx": timer.server_errors,
        "soak_requests": len(timer.ms),
        "soak_transport_failures": timer.failures,
        "soak_codes": dict(timer.codes),
        "live_p99_ms": percentile(delays, 99),
        "live_p50_ms": percentile(delays, 50),
        "live_events": len(delays),
        "live_all_kinds_p99_ms": percentile(every, 99),
        "live_all_kinds_events": len(every),
    }


def phase_hostile(
    stack: Stack,
    attackers: list[httpx.Client],
    bystander: httpx.Client,
    deployment: str,
    rounds: int,
) -> dict[str, Any]:
    files = hostile_files()
    memory = PeakMemory(stack.pid)
    memory.start()
    others = Timer()
    stop = threading.Event()

    def bystanding() -> None:
        door = f"/api/v1/deployments/{deployment}/predict/"
        n = 0
        while not stop.wait(0.2):
            n += 1
            others.call(bystander, "GET", "/api/v1/jobs/?limit=10")
            others.call(bystander, "POST", door, json={"instances": [INSTANCE]})
            if n % 25 == 0:
                upload(bystander, f"fine{n}.csv", table_csv(rows=100, seed=n), others)

    side = threading.Thread(target=bystanding, daemon=True)
    side.start()
    outcomes: dict[str, str] = {}
    hostile_5xx = 0
    pending: list[tuple[httpx.Client, str, int]] = []
    names = [n for _ in range(rounds) for n in files]
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        sent = list(
            pool.map(
                lambda item: (
                    item[0],
                    item[1],
                    upload(attackers[item[0] % len(attackers)], item[1], files[item[1]]),
                ),
                enumerate(names),
            )
        )
    for index, name, answer in sent:
        if answer is None:
            outcomes[name] = "no answer"
            continue
        if answer.status_code >= 500:
            hostile_5xx += 1
        if answer.status_code == 201:
            pending.append((attackers[index % len(attackers)], name, answer.json()["id"]))
        else:
            reason = json.dumps(answer.json())[:120] if answer.content else ""
            outcomes[name] = f"{answer.status_code} {reason}"
    for client, name, pk in pending:
        found = wait_dataset(client, pk, timeout=600)
        outcomes[name] = f"{found['status']} {str(found.get('error') or '')[:120]}"
    stop.set()
    side.join(timeout=30)
    memory.stop.set()
    memory.join()
    accepted = [n for n, o in outcomes.items() if o.startswith("READY")]
    return {
        "hostile_max_rss_mb": round(memory.peak),
        "hostile_max_rss_mb_by_process": {k: round(v) for k, v in memory.by_process.items()},
        "hostile_5xx": hostile_5xx + others.server_errors,
        "hostile_others_requests": len(others.ms),
        "hostile_accepted": accepted,
        "hostile_outcomes": outcomes,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--soak-seconds", type=int, default=600)
    parser.add_argument("--watchers", type=int, default=500)
    parser.add_argument("--fanout-seconds", type=int, default=60)
    parser.add_argument("--fanout-rate", type=int, default=50)
    parser.add_argument("--fanout-processes", type=int, default=2, help="the watchers' processes")
    parser.add_argument("--hostile-rounds", type=int, default=1)
    parser.add_argument("--phases", default=",".join(PHASES), help="a comma-separated subset")
    parser.add_argument("--web-processes", type=int, help="runconsole's (default: its own)")
    args = parser.parse_args()
    phases = set(filter(None, args.phases.split(",")))
    if phases - set(PHASES):
        parser.error(f"--phases: unknown {sorted(phases - set(PHASES))}, choose from {PHASES}")
    if phases & {"soak", "hostile"} and "jobs" not in phases:
        parser.error("--phases: soak and hostile deploy a model of the jobs phase: add jobs")
    summary: dict[str, Any] = {}
    runconsole_args: tuple[str, ...] = ("--concurrency", "2")
    if args.web_processes:
        runconsole_args += ("--web-processes", str(args.web_processes))
    with (
        tempfile.TemporaryDirectory(prefix="bench-load-") as tmp,
        running_stack("postgres", Path(tmp), extra_args=runconsole_args) as stack,
    ):
        made = manage(stack, MAKE_USERS.format(count=args.users + 2))
        tokens = [line.split()[2] for line in made.splitlines() if line.startswith("TOKEN ")]
        clients = [
            httpx.Client(base_url=stack.url, timeout=120, headers={"Authorization": f"Token {t}"})
            for t in tokens
        ]
        users, spare = clients[: args.users], clients[args.users :]
        t0 = time.monotonic()
        jobs: dict[str, Any] = {}
        if "jobs" in phases:
            jobs = phase_jobs(stack, users, args.jobs)
            print("jobs", json.dumps(jobs), flush=True)
        fanout: dict[str, Any] = {}
        if "fanout" in phases:
            watched = jobs["first_user_job"] if jobs else cancelled_job(users[0])
            fanout = phase_fanout(
                stack,
                tokens[0],
                watched,
                args.watchers,
                args.fanout_seconds,
                args.fanout_rate,
                args.fanout_processes,
            )
            print("fanout", json.dumps(fanout), flush=True)
        soak: dict[str, Any] = {}
        hostile: dict[str, Any] = {}
        if phases & {"soak", "hostile"}:
            deployment = deploy_one(users[0])
            if "soak" in phases:
                soak = phase_soak(stack, users, tokens, deployment, args.soak_seconds)
                print("soak", json.dumps(soak), flush=True)
            if "hostile" in phases:
                hostile = phase_hostile(stack, spare, users[0], deployment, args.hostile_rounds)
                print("hostile", json.dumps(hostile), flush=True)
        summary = {
            "jobs_submitted": jobs.get("jobs_submitted"),
            "jobs_completed": jobs.get("jobs_completed"),
            "jobs_duplicated": jobs.get("jobs_duplicated"),
            "api_p99_ms": jobs.get("api_p99_ms"),
            "soak_rss_growth_pct": soak.get("soak_rss_growth_pct"),
            "soak_5xx": soak.get("soak_5xx"),
            "live_p99_ms": soak.get("live_p99_ms"),
            "fanout_missing_events": fanout.get("missing_events"),
            "fanout_out_of_order_clients": fanout.get("out_of_order_clients"),
            "fanout_p50_ms": fanout.get("p50_ms"),
            "fanout_p99_ms": fanout.get("p99_ms"),
            "hostile_max_rss_mb": hostile.get("hostile_max_rss_mb"),
            "hostile_5xx": hostile.get("hostile_5xx"),
            "wall_s": round(time.monotonic() - t0),
        }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
