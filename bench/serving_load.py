"""wrk as the load generator of bench/serving.py: one thread, keep-alive, a fixed POST body.

Its own process (and binary), so that the load costs the servers no Python time; the Lua
script reports the run as one JSON line, with the count of 5xx answers.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

LUA = """
wrk.method = "POST"
wrk.body = io.open(%(body)s, "rb"):read("*a")
%(headers)s
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) c5xx = 0; c4xx = 0 end
%(response)s
function done(summary, latency, requests)
  local c5, c4 = 0, 0
  for _, t in ipairs(threads) do c5 = c5 + (t:get("c5xx") or 0); c4 = c4 + (t:get("c4xx") or 0) end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,' ..
    '"non_2xx":%%d,"connect":%%d,"read":%%d,"write":%%d,"timeout":%%d,"c5xx":%%d,"c4xx":%%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), e.status, e.connect, e.read, e.write, e.timeout, c5, c4))
end
"""
COUNT_STATUS = """
function response(status, headers, body)
  if status >= 500 then c5xx = c5xx + 1 elseif status >= 400 then c4xx = c4xx + 1 end
end
"""


@dataclass
class Load:
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    requests: int
    failed: int  # socket errors and non-2xx answers
    c5xx: int
    c4xx: int

    def row(self) -> dict[str, float]:
        return {
            "rps": round(self.rps, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p90_ms": round(self.p90_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "failed": self.failed,
        }


def available() -> bool:
    return shutil.which("wrk") is not None


def run(
    url: str,
    body: bytes,
    *,
    connections: int,
    seconds: float,
    headers: dict[str, str] | None = None,
    count_status: bool = False,
) -> Load:
    with tempfile.TemporaryDirectory() as tmp:
        body_path = Path(tmp) / "body.json"
        body_path.write_bytes(body)
        lines = [
            f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in (headers or {}).items()
        ]
        script = Path(tmp) / "load.lua"
        script.write_text(
            LUA
            % {
                "body": json.dumps(str(body_path)),
                "headers": "\n".join(lines),
                "response": COUNT_STATUS if count_status else "",
            }
        )
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
             "-s", str(script), url],
            capture_output=True, text=True, check=True, timeout=seconds + 60,
        )  # fmt: skip
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
    r = json.loads(line[len("RESULT ") :])
    failed = r["non_2xx"] + r["connect"] + r["read"] + r["write"] + r["timeout"]
    return Load(
        rps=r["requests"] / (r["duration_us"] / 1e6),
        p50_ms=r["p50_us"] / 1000,
        p90_ms=r["p90_us"] / 1000,
        p99_ms=r["p99_us"] / 1000,
        requests=r["requests"],
        failed=failed,
        c5xx=r["c5xx"],
        c4xx=r["c4xx"],
    )
