"""The README's "Automate it" examples, run as written against a live console."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.stack import ROOT, Stack

pytestmark = pytest.mark.stack

# websocat is not packaged for this machine: this stands in for it, sending what it sends
# (no Origin; the -H headers), printing each message, and ending once the job has finished.
WEBSOCAT = """\
import asyncio, json, sys
import websockets

async def main(args):
    headers, url = {}, args[-1]
    for flag, value in zip(args, args[1:]):
        if flag == "-H":
            name, _, rest = value.partition(":")
            headers[name.strip()] = rest.strip()
    async with websockets.connect(url, additional_headers=headers) as socket:
        async for message in socket:
            print(message, flush=True)
            frame = json.loads(message)  # one event, or an array of several
            events = frame if isinstance(frame, list) else [frame]
            if any(event["kind"] == "job_finished" for event in events):
                return

asyncio.run(main(sys.argv[1:]))
"""


def _blocks() -> str:
    readme = (ROOT / "README.md").read_text()
    found = [
        re.search(rf"<!-- {name} -->\n```sh\n(.*?)```", readme, re.S)
        for name in ("automate-curl", "automate-cli")
    ]
    assert all(found), "the README's automate blocks moved"
    return "\n".join(m[1] for m in found if m)


def _data(folder: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=300).round(3)
    colour = rng.choice(["red", "green", "blue"], size=300)
    label = np.where(x + (colour == "red") * 0.5 > 0.2, "yes", "no")
    pd.DataFrame({"x": x, "colour": colour, "label": label}).to_csv(
        folder / "data.csv", index=False
    )
    pd.DataFrame({"x": [1.5, -2.0], "colour": ["red", "blue"]}).to_csv(
        folder / "rows.csv", index=False
    )


def test_the_readme_automation_examples_run_as_written(
    embedded_stack: Stack, tmp_path: Path
) -> None:
    stack = embedded_stack
    stack.add_user("readme")
    _data(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in {
        "websocat": f"#!{sys.executable}\n{WEBSOCAT}",
        "automl": f'#!/bin/sh\nexec {sys.executable} -m automl_cli "$@"\n',
    }.items():
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "CONSOLE": stack.url,
        "AUTOML_USER": "readme",
        "AUTOML_PASSWORD": stack.passwords["readme"],
        "AUTOML_CONFIG": str(tmp_path / "automl.json"),
    }
    script = "set -euo pipefail\n" + _blocks()
    run = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert run.returncode == 0, f"{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    # The websocket's events, the deployment and two sets of predictions were printed.
    assert '"kind": "job_finished"' in run.stdout
    assert run.stdout.count('"predictions"') == 2
    assert '"name": "demo-cli"' in run.stdout
