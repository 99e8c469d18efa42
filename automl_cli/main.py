"""`automl` commands. Results go to stdout as JSON, progress to stderr; the exit status is 0
on success, 1 when the API refused or the job did not succeed, 2 for a wrong command line."""

from __future__ import annotations

import csv
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import httpx
import yaml
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TransferSpeedColumn,
)
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError

from automl_cli.client import Api, ApiError, Credentials
from automl_cli.watch import watch_job

CHUNK = 8 << 20
F = TypeVar("F", bound=Callable[..., Any])
err = Console(stderr=True)


def _out(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


def _api() -> Api:
    return Api(Credentials.load())


def _fails_cleanly(command: F) -> F:
    """API refusals and network errors end the command with a message and exit status 1."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ApiError as exc:
            err.print(f"[red]error[/red] {exc.message}", highlight=False)
            for field, messages in (exc.body.get("fields") or {}).items():
                err.print(f"  {field}: {' '.join(messages)}", highlight=False)
            sys.exit(1)
        except httpx.HTTPError as exc:
            err.print(f"[red]error[/red] cannot reach the console: {exc}", highlight=False)
            sys.exit(1)

    wrapper.__name__ = command.__name__
    wrapper.__doc__ = command.__doc__
    return wrapper  # type: ignore[return-value]


@click.group()
@click.version_option(package_name="automl-console")
def main() -> None:
    """Command-line client for the AutoML console (see docs/api.md)."""


@main.command()
@click.option("--url", required=True, help="The console, e.g. http://localhost:8000")
@click.option("--token", prompt=True, hide_input=True, help="A personal API token.")
@_fails_cleanly
def login(url: str, token: str) -> None:
    """Check a token and remember it (in ~/.config/automl/config.json, mode 600)."""
    credentials = Credentials(url=url.rstrip("/"), token=token)
    me = Api(credentials).get("/api/v1/auth/me/")
    path = credentials.save()
    err.print(f"Signed in as {me['username']}; saved to {path}", highlight=False)


def _wait_dataset(api: Api, dataset_id: int, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        dataset = api.get(f"/api/v1/datasets/{dataset_id}/")
        if dataset["status"] in ("READY", "FAILED") or time.monotonic() > deadline:
            return dict(dataset)
        time.sleep(0.5)


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", default="", help="Dataset name (default: the file's).")
@click.option("--kind", type=click.Choice(["tabular", "text", "timeseries", "image"]))
@click.option("--text-column", default="")
@click.option("--timestamp-column", default="")
@click.option("--wait/--no-wait", default=True, help="Wait until it is profiled.")
@click.option("--timeout", default=600.0, show_default=True)
@_fails_cleanly
def upload(
    file: Path,
    name: str,
    kind: str | None,
    text_column: str,
    timestamp_column: str,
    wait: bool,
    timeout: float,
) -> None:
    """Upload a dataset (resumable, with a progress bar) and print it."""
    api = _api()
    size = file.stat().st_size
    # tus 1.0 through tuspy: resumable, and any tus server would do for the bytes.
    client = TusClient(f"{api.credentials.url}/api/v1/uploads/", headers=api.auth_headers)
    try:
        uploader = client.uploader(
            file_path=str(file),
            chunk_size=CHUNK,
            metadata={"filename": file.name},
            retries=3,
            retry_delay=1,
        )
        columns = (TextColumn(file.name), BarColumn(), DownloadColumn(), TransferSpeedColumn())
        with Progress(*columns, console=err) as progress:
            bar = progress.add_task("upload", total=size)
            uploader.set_url(uploader.create_url())
            while uploader.offset < size:
                uploader.upload_chunk()
                progress.update(bar, completed=uploader.offset)
    except TusCommunicationError as exc:
        body = exc.response_content
        try:
            parsed = json.loads(body) if body else {}
        except ValueError:
            parsed = {"detail": str(body)[:500]}
        raise ApiError(exc.status_code or 502, parsed or {"detail": str(exc)}) from None
    staged = {"id": str(uploader.url).rstrip("/").rsplit("/", 1)[-1]}
    options: dict[str, Any] = {"upload": staged["id"], "name": name or file.stem}
    options.update(
        {k: v for k, v in
         {"kind": kind, "text_column": text_column, "timestamp_column": timestamp_column}.items()
         if v}
    )  # fmt: skip
    dataset = api.create("/api/v1/datasets/", options)
    if wait:
        dataset = _wait_dataset(api, dataset["id"], timeout)
    _out(dataset)
    if dataset["status"] == "FAILED":
        err.print(f"[red]profiling failed[/red]: {dataset.get('error')}", highlight=False)
        sys.exit(1)


JOB_FIELDS = (
    "dataset", "target", "task_type", "budget", "max_seconds", "max_trials", "max_epochs",
    "seed", "tuner", "queue", "priority", "horizon", "lookback", "label_delimiter",
)  # fmt: skip


def _spec(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    text = path.read_text()
    spec = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if not isinstance(spec, dict):
        raise click.BadParameter("a job spec is a mapping of job fields", param_hint="--spec")
    unknown = set(spec) - set(JOB_FIELDS)
    if unknown:
        raise click.BadParameter(f"unknown fields {sorted(unknown)}", param_hint="--spec")
    return spec


@main.command()
@click.option("--spec", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A YAML or JSON job spec; flags override its fields.")  # fmt: skip
@click.option("--dataset", type=int)
@click.option("--target")
@click.option("--task-type")
@click.option("--budget", type=click.Choice(["quick", "standard", "thorough"]))
@click.option("--max-seconds", type=int)
@click.option("--max-trials", type=int)
@click.option("--max-epochs", type=int)
@click.option("--seed", type=int)
@click.option("--tuner")
@click.option("--queue")
@click.option("--priority", type=click.Choice(["low", "normal", "high"]),
              help="Within its queue, high is taken before normal, low after.")  # fmt: skip
@click.option("--watch", "follow", is_flag=True, help="Then watch it (as `automl watch`).")
@click.option("--timeout", default=3600.0, show_default=True, help="Longest wait for an event.")
@_fails_cleanly
def submit(spec: Path | None, follow: bool, timeout: float, **flags: Any) -> None:
    """Start a training job from flags and/or a spec file; print it."""
    body = {**_spec(spec), **{k: v for k, v in flags.items() if v is not None}}
    if "dataset" not in body:
        raise click.UsageError("Name the dataset (--dataset or in --spec).")
    api = _api()
    job = api.create("/api/v1/jobs/", body)
    if not follow:
        _out(job)
        return
    err.print(f"job {job['id']} queued", highlight=False)
    _finish(api, job["id"], timeout)


def _finish(api: Api, job_id: int, timeout: float) -> None:
    job = watch_job(api, job_id, timeout=timeout, console=err)
    _out(job)
    if job["status"] != "SUCCEEDED":
        sys.exit(1)


@main.command()
@click.argument("job_id", type=int)
@click.option("--timeout", default=3600.0, show_default=True, help="Longest wait for an event.")
@_fails_cleanly
def watch(job_id: int, timeout: float) -> None:
    """Follow a job live; exit 0 when it succeeds, 1 otherwise."""
    _finish(_api(), job_id, timeout)


@main.command()
@_fails_cleanly
def jobs() -> None:
    """List your jobs."""
    rows = _api().list_all("/api/v1/jobs/")
    _out([{k: j[k] for k in ("id", "dataset", "target", "status", "model_version")} for j in rows])


@main.command()
@click.argument("job_id", type=int)
@click.option("--watch", "follow", is_flag=True, help="Then watch the new job (as `automl watch`).")
@click.option("--timeout", default=3600.0, show_default=True, help="Longest wait for an event.")
@_fails_cleanly
def retry(job_id: int, follow: bool, timeout: float) -> None:
    """Retry a FAILED or CANCELLED job: a new job with its settings and seed; print it."""
    api = _api()
    job = api.create(f"/api/v1/jobs/{job_id}/retry/", {})
    if not follow:
        _out(job)
        return
    err.print(f"job {job_id} retried as job {job['id']}", highlight=False)
    _finish(api, job["id"], timeout)


TRIAL_ORDERS = ("number", "score", "status", "started_at", "finished_at")


@main.command()
@click.argument("job_id", type=int)
@click.option(
    "--order",
    default="number",
    show_default=True,
    type=click.Choice([*TRIAL_ORDERS, *(f"-{o}" for o in TRIAL_ORDERS)]),
    help="'-' first for descending. score is the validation loss: 'score' lists the best "
    "first; trials without a score come last either way.",
)
@click.option("--status", type=click.Choice(["RUNNING", "COMPLETED", "FAILED"]))
@click.option("--limit", type=click.IntRange(min=1), help="At most this many (default: all).")
@click.option("--epochs", is_flag=True, help="Also each trial's per-epoch metrics.")
@_fails_cleanly
def trials(job_id: int, order: str, status: str | None, limit: int | None, epochs: bool) -> None:
    """A job's trials, read a page at a time."""
    params: dict[str, Any] = {"ordering": order, "page_size": min(limit or 200, 200)}
    if status:
        params["status"] = status
    rows = _api().list_all(f"/api/v1/jobs/{job_id}/trials/", limit=limit, **params)
    _out([{k: v for k, v in t.items() if epochs or k != "epochs"} for t in rows])


@main.group()
def versions() -> None:
    """Registered model versions."""


@versions.command("list")
@_fails_cleanly
def versions_list() -> None:
    rows = _api().list_all("/api/v1/model-versions/")
    keys = ("id", "model_name", "version", "task_type", "target", "metrics", "created_at")
    _out([{k: v.get(k) for k in keys} for v in rows])


@versions.command("compare")
@click.argument("version_ids", type=int, nargs=-1, required=True)
@_fails_cleanly
def versions_compare(version_ids: tuple[int, ...]) -> None:
    """Metrics of versions side by side: {metric: {version id: value}}."""
    api = _api()
    found = [api.get(f"/api/v1/model-versions/{v}/") for v in version_ids]
    metrics = sorted({
        k for v in found for k, x in (v.get("metrics") or {}).items()
        if isinstance(x, int | float)
    })  # fmt: skip
    table = {m: {str(v["id"]): (v.get("metrics") or {}).get(m) for v in found} for m in metrics}
    _out(table)


@main.command()
@click.argument("version_id", type=int)
@click.option("--name", default="", help="Deployment name (a slug); default: generated.")
@click.option("--wait/--no-wait", default=True, help="Wait until it is READY.")
@click.option("--timeout", default=300.0, show_default=True)
@_fails_cleanly
def deploy(version_id: int, name: str, wait: bool, timeout: float) -> None:
    """Deploy a model version; print the deployment."""
    api = _api()
    body = {"name": name} if name else {}
    deployment = api.create(f"/api/v1/model-versions/{version_id}/deploy/", body)
    deadline = time.monotonic() + timeout
    while wait and deployment["status"] in ("PENDING", "LOADING") and time.monotonic() < deadline:
        time.sleep(0.5)
        deployment = api.get(f"/api/v1/deployments/{deployment['name']}/")
    _out(deployment)
    if deployment["status"] == "FAILED":
        sys.exit(1)


@main.command()
@click.argument("deployment")
@click.option("--delete", is_flag=True, help="Also forget the deployment (its name is free).")
@_fails_cleanly
def undeploy(deployment: str, delete: bool) -> None:
    """Stop serving a deployment; print it (UNDEPLOYED), or nothing with --delete."""
    api = _api()
    if delete:
        api.request("DELETE", f"/api/v1/deployments/{deployment}/")
        return
    _out(api.create(f"/api/v1/deployments/{deployment}/undeploy/", {}))


def _cell(text: str) -> Any:
    """A CSV cell as JSON would carry it: a number when it reads as one, null when empty."""
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _instances(path: Path) -> list[dict[str, Any]]:
    if path.suffix.lower() == ".csv":
        with path.open(newline="") as source:
            return [{k: _cell(v) for k, v in row.items()} for row in csv.DictReader(source)]
    data = json.loads(path.read_text())
    if isinstance(data, dict) and "instances" in data:
        data = data["instances"]
    if not isinstance(data, list):
        raise click.BadParameter("JSON input is a list of rows or {'instances': [...]}")
    return data


@main.command()
@click.argument("deployment")
@click.argument("input_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_fails_cleanly
def predict(deployment: str, input_file: Path) -> None:
    """Predict the rows of a CSV or JSON file with a deployment; print the predictions."""
    answer = _api().request(
        "POST",
        f"/api/v1/deployments/{deployment}/predict/",
        json={"instances": _instances(input_file)},
    )
    _out(answer)


def _download(api: Api, path: str, output: Path) -> None:
    """Stream a file answer to `output`, through a temporary name: a broken download leaves
    no partial file under the name asked for."""
    partial = output.with_name(f".{output.name}.part")
    with api.http.stream("GET", path, headers={"Accept": "*/*"}) as answer:
        if answer.status_code >= 400:
            answer.read()
            raise ApiError(answer.status_code, answer.json())
        with partial.open("wb") as out:
            for block in answer.iter_bytes():
                out.write(block)
    partial.replace(output)


@main.command("batch-predict")
@click.option("--version", "version_id", type=int, help="A model version's id.")
@click.option("--deployment", help="Or a deployment's name: the version it serves now.")
@click.option("--dataset", type=int, required=True, help="The id of one of your READY datasets.")
@click.option("--wait", is_flag=True, help="Wait until it has finished.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Save the predictions' CSV here (implies --wait).")  # fmt: skip
@click.option("--timeout", default=3600.0, show_default=True)
@_fails_cleanly
def batch_predict(
    version_id: int | None,
    deployment: str | None,
    dataset: int,
    wait: bool,
    output: Path | None,
    timeout: float,
) -> None:
    """Score a whole dataset with a model version offline; print the batch prediction.
    Exits 1 when it FAILED or was CANCELLED."""
    if (version_id is None) == (deployment is None):
        raise click.UsageError("Name either --version or --deployment.")
    api = _api()
    body: dict[str, Any] = {"dataset": dataset}
    if version_id is not None:
        body["version"] = version_id
    else:
        body["deployment"] = deployment
    prediction = api.create("/api/v1/batch-predictions/", body)
    deadline = time.monotonic() + timeout
    if wait or output is not None:
        while prediction["status"] in ("QUEUED", "RUNNING") and time.monotonic() < deadline:
            time.sleep(1)
            prediction = api.get(f"/api/v1/batch-predictions/{prediction['id']}/")
    if output is not None and prediction["status"] == "SUCCEEDED":
        _download(api, prediction["result_url"], output)
        err.print(f"{prediction['n_rows']} predictions saved to {output}", highlight=False)
    _out(prediction)
    if prediction["status"] in ("FAILED", "CANCELLED"):
        err.print(f"[red]batch prediction {prediction['status'].lower()}[/red]: "
                  f"{prediction.get('error')}", highlight=False)  # fmt: skip
        sys.exit(1)
