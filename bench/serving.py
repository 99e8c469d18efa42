"""Prediction serving: our predictor against MLflow, MLServer and the server stack's ceiling.

    .venv/bin/python bench/serving.py [--seconds 15] [--swap-seconds 30] [--skip-peers]

One run: starts the real console (`runconsole`; PostgreSQL and Redis when DATABASE_URL and
REDIS_URL are set, so the predictor hears changes by NOTIFY, else embedded), uploads a
synthetic 19-column table, trains two versions of a binary classifier through the API and
deploys the first. Then, with wrk (one thread, keep-alive, its own process) posting a one-row
JSON body for `--seconds` per point:
- a constant-answer ASGI app under the same uvicorn options: the ceiling, at 1, 16, 64
- the predictor at 1, 16, 64 (and 32 rows per request at 16)
- the web process's same-origin door at 16
- MLflow `models serve` (its own virtual environment under var/, made here) with a pyfunc
  wrapper of the same .keras file, at 1 and 16
- MLServer (its own virtual environment) with a runtime for the same file and adaptive
  batching, Open Inference Protocol JSON, at 1 and 16
- swap under load: 16 connections for `--swap-seconds`; a third of the way in, the deployment
  moves to the second version; failed requests and 5xx answers are counted.
The peers' environments see the console's packages (keras, torch, the engine) after their own.
The last line is one JSON object (keys in the issue, #11).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import serving_load  # noqa: E402
from bench.datasets import free_port, wait_settled  # noqa: E402

VAR = ROOT / "var" / "bench-serving"
# A new user per run: a database kept between runs (PostgreSQL) still holds the last run's
# datasets, whose files are gone with the last run's folder.
USER = f"bench-serving-{int(time.time())}"
UVICORN_FLAGS = ["--loop", "uvloop", "--http", "console.predictor_protocol:NoDelayProtocol",
                 "--no-access-log", "--backlog", "4096"]  # fmt: skip


def table(rows: int = 2000, seed: int = 0) -> pd.DataFrame:
    """14 numbers and 5 categories, and a label that depends on some of each."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=rows).round(4) for i in range(14)})
    for i in range(5):
        frame[f"c{i}"] = rng.choice(["red", "green", "blue", "grey"], size=rows)
    score = frame.x0 + 0.5 * frame.x1 - frame.x2 + (frame.c0 == "red") - 0.5 * (frame.c1 == "blue")
    frame["churn"] = np.where(score + rng.normal(scale=0.5, size=rows) > 0, "yes", "no")
    return frame


def _env(data_dir: Path) -> dict[str, str]:
    env = {**os.environ, "CONSOLE_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
    env.setdefault("SECRET_KEY", secrets.token_urlsafe(32))
    if not (env.get("DATABASE_URL") and env.get("REDIS_URL")):
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
    # Plain HTTP on loopback, as the tests run it (production would redirect to HTTPS).
    env["CONSOLE_EMBEDDED"] = "1"
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    out = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                         capture_output=True, text=True)  # fmt: skip
    if out.returncode:
        raise RuntimeError(f"manage.py {args[0]} failed:\n{out.stderr[-3000:]}")
    return out.stdout


def start_console(workdir: Path) -> tuple[subprocess.Popen[bytes], str, str, str, dict[str, str]]:
    env = _env(workdir / "console")
    _manage(env, "migrate", "--noinput")
    made = _manage(env, "shell", "-c",
        "from django.contrib.auth.models import User\n"
        "from console.tokens import token_create\n"
        f"u = User.objects.create_user({USER!r})\n"
        "print('TOKEN', token_create(user=u, name='bench').raw)")  # fmt: skip
    token = next(line.split()[1] for line in made.splitlines() if line.startswith("TOKEN"))
    port, predictor_port = free_port(), free_port()
    log = (workdir / "console.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runconsole", "--port", str(port),
         "--predictor-port", str(predictor_port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url, predictor = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{predictor_port}"
    wait_settled(proc.pid, f"{url}/healthz", f"{predictor}/healthz", timeout=300)
    return proc, url, predictor, token, env


def _wait(client: httpx.Client, path: str, done: tuple[str, ...], timeout: float = 900) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = client.get(path).json()
        if found["status"] in done:
            return found
        time.sleep(0.5)
    raise RuntimeError(f"{path} did not finish")


def train_versions(client: httpx.Client, csv: Path, count: int) -> list[dict[str, Any]]:
    with csv.open("rb") as body:
        created = client.post("/api/v1/datasets/", files={"file": (csv.name, body, "text/csv")})
    assert created.status_code in (200, 201), created.text
    dataset = _wait(client, f"/api/v1/datasets/{created.json()['id']}/", ("READY", "FAILED"))
    assert dataset["status"] == "READY", dataset.get("error")
    versions = []
    for _ in range(count):
        job = client.post("/api/v1/jobs/", json={
            "dataset": dataset["id"], "target": "churn", "max_trials": 1, "max_epochs": 3,
            "tuner": "random"})  # fmt: skip
        assert job.status_code == 201, job.text
        done = _wait(client, f"/api/v1/jobs/{job.json()['id']}/", ("SUCCEEDED", "FAILED"))
        assert done["status"] == "SUCCEEDED", done.get("error")
        version = done["model_version"]
        version_id = version["id"] if isinstance(version, dict) else version
        versions.append(client.get(f"/api/v1/model-versions/{version_id}/").json())
    return versions


def keras_file(data_dir: Path, sha256: str) -> Path:
    for path in data_dir.rglob("*.keras"):
        if hashlib.sha256(path.read_bytes()).hexdigest() == sha256:
            return path
    raise FileNotFoundError(sha256)


def _serve(cmd: list[str], health: str, log: Path, env: dict[str, str] | None = None,
           timeout: float = 300) -> subprocess.Popen[bytes]:  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[0]} exited; see {log}")
        try:
            if httpx.get(health, timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{health} never answered; see {log}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def peer_venv(name: str, requirement: str) -> Path:
    """A virtual environment for a peer, made once; it sees the console's packages (keras,
    torch, pandas) after its own, through a .pth file added after the install."""
    venv = VAR / f"{name}-venv"
    python = venv / "bin" / "python"
    if not (venv / ".ready").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", requirement], check=True)
        ours = next(Path(p) for p in sys.path if p.endswith("site-packages"))
        site = next((venv / "lib").glob("python3*/site-packages"))
        (site / "zz_console.pth").write_text(f"{ours}\n")
        (venv / ".ready").touch()
    return python


def peer_env(python: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    env.update(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", KERAS_BACKEND="torch",
               PATH=f"{python.parent}:{env.get('PATH', '')}")  # fmt: skip
    return env


def measure(label: str, url: str, body: bytes, points: list[int], seconds: float,
            headers: dict[str, str] | None = None) -> dict[int, serving_load.Load]:  # fmt: skip
    # A short warm-up: connections open, first-call paths run.
    serving_load.run(url, body, connections=max(points), seconds=2, headers=headers)
    results = {}
    for c in points:
        results[c] = serving_load.run(url, body, connections=c, seconds=seconds, headers=headers)
        print(f"{label:>22} c={c:<3} {json.dumps(results[c].row())}", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--swap-seconds", type=float, default=30)
    parser.add_argument("--skip-peers", action="store_true")
    args = parser.parse_args()
    # A SIGTERM still stops the console and the peers it started (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    if not serving_load.available():
        raise SystemExit("wrk is needed (apt-get install -y wrk)")
    workdir = VAR / "run"
    subprocess.run(["rm", "-rf", str(workdir)], check=True)
    workdir.mkdir(parents=True)
    csv = workdir / "churn.csv"
    frame = table()
    frame.to_csv(csv, index=False)
    row = frame.drop(columns="churn").iloc[0].to_dict()
    body = json.dumps({"instances": [row]}).encode()
    body32 = json.dumps(
        {"instances": frame.drop(columns="churn").iloc[:32].to_dict("records")}
    ).encode()
    procs: list[subprocess.Popen[bytes]] = []
    summary: dict[str, Any] = {}
    try:
        console, web, predictor, token, env = start_console(workdir)
        procs.append(console)
        auth = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        client = httpx.Client(base_url=web, headers={"Authorization": f"Token {token}"}, timeout=60)
        t0 = time.monotonic()
        v1, v2 = train_versions(client, csv, 2)
        print(f"trained two versions in {time.monotonic() - t0:.0f} s", flush=True)
        deployed = client.post(f"/api/v1/model-versions/{v1['id']}/deploy/", json={"name": "bench"})
        assert deployed.status_code == 201, deployed.text
        t0 = time.monotonic()
        while httpx.get(f"{predictor}/v1/deployments/bench", headers=auth).status_code != 200:
            time.sleep(0.05)
        print(f"deployment READY {time.monotonic() - t0:.2f} s after the deploy call", flush=True)
        predict_url = f"{predictor}/v1/deployments/bench/predict"
        answer = httpx.post(predict_url, content=body, headers=auth)
        assert answer.status_code == 200, answer.text
        assert answer.json()["model_version"] == v1["version"], answer.text
        wait_settled(console.pid, f"{web}/healthz", timeout=120)

        constant = _serve([sys.executable, "-m", "uvicorn", "bench.serving_peers.constant:app",
                           "--port", str(port := free_port()), *UVICORN_FLAGS],
                          f"http://127.0.0.1:{port}/", workdir / "constant.log")  # fmt: skip
        ceiling = measure(
            "constant app", f"http://127.0.0.1:{port}/", body, [1, 16, 64], args.seconds
        )
        _stop(constant)

        ours = measure("predictor", predict_url, body, [1, 16, 64], args.seconds, auth)
        ours32 = measure("predictor 32 rows", predict_url, body32, [16], args.seconds, auth)
        door = measure("web door", f"{web}/api/v1/deployments/bench/predict/", body, [16],
                       args.seconds, auth)  # fmt: skip

        peers: dict[str, dict[int, serving_load.Load]] = {}
        if not args.skip_peers:
            keras_path = keras_file(workdir / "console", v1["artifact_sha256"])
            peers["mlflow"] = bench_mlflow(keras_path, row, workdir, args.seconds)
            peers["mlserver"] = bench_mlserver(keras_path, row, workdir, args.seconds)

        swap = swap_under_load(predict_url, body, auth, env, v2, args.swap_seconds)
        summary = {
            "c1_rps": round(ours[1].rps, 1),
            "c16_rps": round(ours[16].rps, 1),
            "c64_rps": round(ours[64].rps, 1),
            "p99_c16_ms": round(ours[16].p99_ms, 2),
            "c16_32rows_rps": round(ours32[16].rps, 1),
            "ceiling_c16_rps": round(ceiling[16].rps, 1),
            "c16_vs_ceiling": round(ours[16].rps / ceiling[16].rps, 3),
            "c64_vs_c16": round(ours[64].rps / ours[16].rps, 3),
            "webdoor_vs_predictor": round(door[16].rps / ours[16].rps, 3),
            **swap,
        }
        if "mlflow" in peers:
            summary["c16_vs_mlflow"] = round(ours[16].rps / peers["mlflow"][16].rps, 1)
            summary["p99_c16_mlflow_ms"] = round(peers["mlflow"][16].p99_ms, 2)
            best = max(peers, key=lambda name: peers[name][16].rps)
            summary["best_peer_engine"] = best
            summary["c16_vs_best_peer"] = round(ours[16].rps / peers[best][16].rps, 1)
            for name, loads in peers.items():
                summary[f"{name}_c16_rps"] = round(loads[16].rps, 1)
    finally:
        for proc in procs:
            _stop(proc)
    print(json.dumps(summary))


def bench_mlflow(
    keras_path: Path, row: dict[str, Any], workdir: Path, seconds: float
) -> dict[int, serving_load.Load]:
    python = peer_venv("mlflow", "mlflow==3.17.2")
    env = peer_env(python)
    model_dir = workdir / "mlflow-model"
    saver = [str(python), "-m", "bench.serving_peers.mlflow_model", str(keras_path), str(model_dir)]
    subprocess.run(saver, cwd=ROOT, env=env, check=True, capture_output=True)
    port = free_port()
    mlflow = python.parent / "mlflow"
    proc = _serve([str(mlflow), "models", "serve", "-m", str(model_dir), "-p", str(port),
                   "--env-manager", "local", "--host", "127.0.0.1"],
                  f"http://127.0.0.1:{port}/ping", workdir / "mlflow.log", env)  # fmt: skip
    try:
        body = json.dumps({"dataframe_records": [row]}).encode()
        url = f"http://127.0.0.1:{port}/invocations"
        answer = httpx.post(url, content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 200, answer.text
        return measure("mlflow models serve", url, body, [1, 16], seconds,
                       {"Content-Type": "application/json"})  # fmt: skip
    finally:
        _stop(proc)


def bench_mlserver(
    keras_path: Path, row: dict[str, Any], workdir: Path, seconds: float
) -> dict[int, serving_load.Load]:
    python = peer_venv("mlserver", "mlserver==1.7.1")
    env = peer_env(python)
    folder = workdir / "mlserver"
    (folder / "keras").mkdir(parents=True)
    http_port, grpc_port, metrics_port = free_port(), free_port(), free_port()
    (folder / "settings.json").write_text(json.dumps({
        "http_port": http_port, "grpc_port": grpc_port, "metrics_port": metrics_port,
        "parallel_workers": 0, "debug": False}))  # fmt: skip
    (folder / "keras" / "model-settings.json").write_text(json.dumps({
        "name": "keras", "implementation": "bench.serving_peers.mlserver_runtime.KerasRuntime",
        "max_batch_size": 64, "max_batch_time": 0.002,
        "parameters": {"uri": str(keras_path)}}))  # fmt: skip
    mlserver = python.parent / "mlserver"
    proc = _serve([str(mlserver), "start", str(folder)],
                  f"http://127.0.0.1:{http_port}/v2/models/keras/ready",
                  workdir / "mlserver.log", env)  # fmt: skip
    try:
        inputs = [
            {"name": k, "shape": [1], "datatype": "BYTES" if isinstance(v, str) else "FP64",
             "data": [v]} for k, v in row.items()
        ]  # fmt: skip
        body = json.dumps({"inputs": inputs}).encode()
        url = f"http://127.0.0.1:{http_port}/v2/models/keras/infer"
        answer = httpx.post(url, content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 200, answer.text
        return measure(
            "mlserver", url, body, [1, 16], seconds, {"Content-Type": "application/json"}
        )
    finally:
        _stop(proc)


def swap_under_load(url: str, body: bytes, auth: dict[str, str], env: dict[str, str],
                    target: dict[str, Any], seconds: float) -> dict[str, Any]:  # fmt: skip
    """16 connections for `seconds`; a third of the way in, the deployment moves to `target`."""
    result: dict[str, serving_load.Load] = {}
    load = threading.Thread(target=lambda: result.setdefault("load", serving_load.run(
        url, body, connections=16, seconds=seconds, headers=auth, count_status=True)))  # fmt: skip
    load.start()
    time.sleep(seconds / 3)
    _manage(env, "shell", "-c",
        "from models_registry import services\n"
        "from models_registry.models import Deployment, ModelVersion\n"
        f"d = Deployment.objects.get(name='bench', owner__username={USER!r})\n"
        f"v = ModelVersion.objects.get(pk={target['id']})\n"
        "services.deployment_move(deployment=d, model_version=v)")  # fmt: skip
    moved_at = time.monotonic()  # the shell has committed the move
    switched = None
    while load.is_alive():
        answer = httpx.post(url, content=body, headers=auth)
        if switched is None and answer.json().get("model_version") == target["version"]:
            switched = time.monotonic() - moved_at
        time.sleep(0.05)
    load.join()
    swap = result["load"]
    print(f"{'swap under load':>22} c=16  {json.dumps(swap.row())} 5xx={swap.c5xx} "
          f"switched {switched if switched is None else round(switched, 2)} s after the move",
          flush=True)  # fmt: skip
    return {
        "swap_requests": swap.requests,
        "swap_failed_requests": swap.failed,
        "swap_5xx": swap.c5xx,
        "swap_switched_after_s": None if switched is None else round(switched, 2),
    }


if __name__ == "__main__":
    main()
