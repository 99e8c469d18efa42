"""`automl watch`: a job's events from the websocket, drawn as progress bars per trial."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from automl_cli.client import Api, ApiError

TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}


class TrialBoard:
    """One bar per trial (epochs), and a best-so-far line when a trial finishes."""

    def __init__(self, progress: Progress, console: Console, max_epochs: int | None) -> None:
        self.progress = progress
        self.console = console
        self.max_epochs = max_epochs
        self.bars: dict[int, Any] = {}
        self.best: float | None = None

    def show(self, event: dict[str, Any]) -> None:
        kind, payload = event["kind"], event.get("payload") or {}
        if kind == "trial_started":
            number = payload["trial"]
            if number not in self.bars:
                self.bars[number] = self.progress.add_task(f"trial {number}", total=self.max_epochs)
        elif kind == "epoch_end":
            bar = self.bars.get(int(payload.get("trial") or 0))
            if bar is not None:
                loss = (payload.get("metrics") or {}).get("val_loss")
                label = f"trial {payload['trial']}" + (f" val_loss {loss:.4f}" if loss else "")
                self.progress.update(bar, completed=payload.get("epoch", 0) + 1, description=label)
        elif kind == "trial_finished":
            bar = self.bars.get(int(payload.get("trial") or 0))
            if bar is not None:
                self.progress.stop_task(bar)
            score = payload.get("score")
            if isinstance(score, int | float) and (self.best is None or score > self.best):
                self.best = float(score)
            best = "-" if self.best is None else f"{self.best:.4f}"
            self.console.print(
                f"trial {payload.get('trial')} {payload.get('status', '').lower()}: "
                f"score {score}; best so far {best}"
            )
        elif kind == "job_status":
            self.console.print(
                f"job {payload.get('status')}"
                + (f": {payload['error']}" if payload.get("error") else "")
            )


def watch_job(api: Api, job_id: int, *, timeout: float, console: Console) -> dict[str, Any]:
    """Follows the job until it ends; returns the finished job as the API shows it."""
    job = api.get(f"/api/v1/jobs/{job_id}/")
    if job["status"] in TERMINAL:
        return dict(job)
    url = f"{api.ws_url}/ws/jobs/{job_id}/"
    headers = {"Authorization": f"Token {api.credentials.token}"}
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with (
        Progress(*columns, console=console, transient=False) as progress,
        connect(url, additional_headers=headers, open_timeout=30) as socket,
    ):
        board = TrialBoard(progress, console, job.get("max_epochs"))
        while True:
            try:
                raw = socket.recv(timeout=timeout)
            except TimeoutError:
                raise ApiError(408, {"code": "timeout", "detail": "No event in time."}) from None
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else None
                raise ApiError(
                    401 if code == 4401 else 403 if code == 4403 else 502,
                    {"code": "websocket_closed", "detail": f"The websocket closed ({code})."},
                ) from None
            events = frame_events(raw)
            for event in events:
                board.show(event)
            if any(_ends_job(event) for event in events):
                break
    return dict(api.get(f"/api/v1/jobs/{job_id}/"))


def frame_events(raw: str | bytes) -> list[dict[str, Any]]:
    """A frame's events: one event's object, or an array of several, in order (docs/api.md)."""
    frame = json.loads(raw)
    return frame if isinstance(frame, list) else [frame]


def _ends_job(event: dict[str, Any]) -> bool:
    status = (event.get("payload") or {}).get("status")
    return event["kind"] == "job_finished" or (
        event["kind"] == "job_status" and status in TERMINAL - {"SUCCEEDED"}
    )
