"""The `automl` command-line client drives the whole path against a running console with a
real worker: login, upload, job from a spec, live watch, versions, deploy, predict, undeploy."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import websockets

from automl_cli.watch import frame_events
from tests.conftest import breast_cancer_csv
from tests.stack import ROOT, Stack

pytestmark = pytest.mark.stack


def _automl(config: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AUTOML_CONFIG": str(config)}
    env.pop("AUTOML_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", "automl_cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


async def _script_watch(url: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """What websocat sends: no Origin, the header given with -H."""
    events: list[dict[str, Any]] = []
    async with websockets.connect(url, additional_headers=headers) as socket:
        while True:
            for event in frame_events(await asyncio.wait_for(socket.recv(), timeout=30)):
                events.append(event)
                if event["kind"] == "job_finished":
                    return events


def test_the_cli_drives_upload_job_watch_deploy_predict(
    embedded_stack: Stack, tmp_path: Path
) -> None:
    stack = embedded_stack
    stack.add_user("cli")
    owner = stack.client("cli")
    config = tmp_path / "automl.json"
    # given a personal token made through the API
    made = owner.post("/api/v1/auth/tokens/", json={"name": "ci", "scope": "full"})
    assert made.status_code == 201, made.text
    token = made.json()["token"]

    # when the client logs in with it, the token is checked and kept private
    login = _automl(config, "login", "--url", stack.url, "--token", token)
    assert login.returncode == 0, login.stderr
    assert "Signed in as cli" in login.stderr
    assert config.stat().st_mode & 0o777 == 0o600
    refused = _automl(tmp_path / "other.json", "login", "--url", stack.url, "--token", "aml_x")
    assert refused.returncode == 1
    assert "authentication_failed" in refused.stderr

    # and a CSV is uploaded (resumably) and profiled
    csv_path = tmp_path / "cancer.csv"
    csv_path.write_bytes(breast_cancer_csv())
    dataset = _ok(_automl(config, "upload", str(csv_path)))
    assert dataset["status"] == "READY"
    assert (dataset["n_rows"], dataset["name"]) == (569, "cancer")

    # and a job is submitted from a YAML spec (a flag overriding it) and watched live
    spec = tmp_path / "job.yaml"
    spec.write_text(f"dataset: {dataset['id']}\ntarget: diagnosis\nmax_trials: 2\nmax_epochs: 5\n")
    watched = _automl(config, "submit", "--spec", str(spec), "--max-epochs", "2", "--watch")
    job = _ok(watched)

    # then it succeeded, with a line per finished trial and the best so far
    assert job["status"] == "SUCCEEDED", job["error"]
    assert job["max_epochs"] == 2
    assert watched.stderr.count("best so far") == 2
    assert "trial 1" in watched.stderr

    # and the version can be listed and compared
    listed = _ok(_automl(config, "versions", "list"))
    assert [v["id"] for v in listed] == [job["model_version"]]
    compared = _ok(_automl(config, "versions", "compare", str(job["model_version"])))
    assert compared["accuracy"][str(job["model_version"])] > 0.8

    # and deployed, then used for predictions from a CSV and a JSON file
    deployment = _ok(_automl(config, "deploy", str(job["model_version"]), "--name", "cli"))
    assert deployment["status"] == "READY", deployment["error"]
    frame = pd.read_csv(csv_path).drop(columns="diagnosis").iloc[:3]
    rows_csv = tmp_path / "rows.csv"
    frame.to_csv(rows_csv, index=False)
    from_csv = _ok(_automl(config, "predict", "cli", str(rows_csv)))
    assert len(from_csv["predictions"]) == 3
    rows_json = tmp_path / "rows.json"
    rows_json.write_text(json.dumps({"instances": frame.to_dict("records")}))
    from_json = _ok(_automl(config, "predict", "cli", str(rows_json)))
    assert [p["label"] for p in from_json["predictions"]] == [
        p["label"] for p in from_csv["predictions"]
    ]

    # and undeployed: it stays listed but answers no more (once the predictor has read the
    # change, about a second at most: see models_registry.predictor.directory), then is
    # forgotten
    undeployed = _ok(_automl(config, "undeploy", "cli"))
    assert undeployed["status"] == "UNDEPLOYED"
    deadline = time.monotonic() + 5
    while (after := _automl(config, "predict", "cli", str(rows_json))).returncode == 0:
        assert time.monotonic() < deadline, "the undeployed deployment still answers"
    assert after.returncode == 1
    assert "UNDEPLOYED" in after.stderr
    assert _automl(config, "undeploy", "cli", "--delete").returncode == 0
    assert _automl(config, "undeploy", "cli").returncode == 1

    # and failures exit non-zero with the API's reason
    bad = _automl(config, "submit", "--dataset", "999999", "--target", "x")
    assert bad.returncode == 1
    assert "dataset" in bad.stderr
    assert _automl(config, "watch", "999999").returncode == 1
    assert _automl(config, "predict", "no-such", str(rows_json)).returncode == 1

    # and a script watches the finished job as the README's websocat line does
    url = f"{stack.ws_url}/ws/jobs/{job['id']}/"
    events = asyncio.run(_script_watch(url, {"Authorization": f"Token {token}"}))
    assert events[-1]["payload"]["status"] == "SUCCEEDED"

    # and no token, however it was sent, reached the server's log
    asyncio.run(_script_watch(f"{url}?token={token}", {}))
    log = (stack.data_dir / "console.log").read_text()
    assert "token=[redacted]" in log
    assert token not in log
    assert stack.tokens["cli"] not in log
