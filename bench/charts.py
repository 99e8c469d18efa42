"""Live charts: uPlot (what the console draws with) against ECharts, in the same browser.

    .venv/bin/python bench/charts.py [--sizes 1000,10000,50000] [--updates 200]

Issue 13 asks for a charting library "measured for thousands of points updating live". One run
starts Debian's chromium headless (as the browser tests do), loads uPlot from the frontend's
own node_modules and ECharts (the peer, installed under var/bench-charts on the first run, not
a dependency of the console), and for each size draws three lines of that many points (a
job's learning curves, a deployment's latency percentiles), then appends one point to each
line `--updates` times, timing each update until it is on the canvas (uPlot: `setData` in a
batch, which draws before it returns; ECharts: `setOption` of the columns as a dataset,
without animation and with its LTTB downsampling, then the renderer's `flush`). A frame at
60 Hz is 16.7 ms: an update under that keeps a live chart smooth. The last line is one JSON
object: each library's p95 per update at the largest size, and their ratio (ECharts / uPlot).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
UPLOT = ROOT / "frontend/node_modules/uplot/dist/uPlot.iife.min.js"
UPLOT_CSS = ROOT / "frontend/node_modules/uplot/dist/uPlot.min.css"
PEER_DIR = ROOT / "var/bench-charts"
ECHARTS_VERSION = "6.1.0"
ECHARTS = PEER_DIR / "node_modules/echarts/dist/echarts.min.js"
CHROMIUM = Path("/usr/bin/chromium")
# As tests/e2e/test_browser.py launches it.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
FRAME_MS = 1000 / 60

# Runs in the page: one library, one size; returns each update's milliseconds.
MEASURE = """
async ([lib, n, updates]) => {
  const host = document.createElement("div");
  host.style.width = "800px";
  host.style.height = "300px";
  document.body.replaceChildren(host);
  let seed = 1;
  const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const x = [], ys = [[], [], []];
  for (let i = 0; i < n; i++) {
    x.push(i);
    ys.forEach((y, k) => y.push((y.length ? y[y.length - 1] : k) + rand() - 0.5));
  }
  const times = [];
  if (lib === "uplot") {
    const u = new uPlot({
      width: 800, height: 300,
      series: [{}, {stroke: "#2f5bea"}, {stroke: "#a15c00"}, {stroke: "#157f3c"}],
      scales: {x: {time: false}},
    }, [x, ...ys], host);
    for (let t = 0; t < updates; t++) {
      const start = performance.now();
      x.push(x.length);
      ys.forEach((y) => y.push(y[y.length - 1] + rand() - 0.5));
      u.batch(() => u.setData([x, ...ys]));
      times.push(performance.now() - start);
    }
    u.destroy();
  } else {
    const chart = echarts.init(host, null, {renderer: "canvas"});
    // Columns, as uPlot takes them (no [x, y] pair per point), and ECharts' own downsampling
    // of long lines: the fastest way it offers to draw this.
    const option = () => ({
      animation: false,
      dataset: {source: {x, a: ys[0], b: ys[1], c: ys[2]}},
      xAxis: {type: "value", min: "dataMin", max: "dataMax"},
      yAxis: {type: "value", scale: true},
      series: ["a", "b", "c"].map((name) => (
        {type: "line", showSymbol: false, sampling: "lttb", encode: {x: "x", y: name}}
      )),
    });
    chart.setOption(option());
    chart.getZr().flush();
    for (let t = 0; t < updates; t++) {
      const start = performance.now();
      x.push(x.length);
      ys.forEach((y) => y.push(y[y.length - 1] + rand() - 0.5));
      chart.setOption(option(), {lazyUpdate: false});
      chart.getZr().flush();
      times.push(performance.now() - start);
    }
    chart.dispose();
  }
  return times;
}
"""


def _peer() -> None:
    if ECHARTS.exists():
        return
    PEER_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["npm", "install", "--no-save", "--prefix", str(PEER_DIR), f"echarts@{ECHARTS_VERSION}"],
        check=True,
        stdout=sys.stderr,
    )


def _stats(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "mean_ms": round(sum(ordered) / len(ordered), 2),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
        "max_ms": round(ordered[-1], 2),
        "within_frame_pct": round(100 * sum(t <= FRAME_MS for t in ordered) / len(ordered), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--updates", type=int, default=200)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    _peer()
    results: dict[str, dict[int, dict[str, float]]] = {"uplot": {}, "echarts": {}}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page()
        page.set_content("<!doctype html><html><body></body></html>")
        page.add_style_tag(path=str(UPLOT_CSS))
        page.add_script_tag(path=str(UPLOT))
        page.add_script_tag(path=str(ECHARTS))
        for n in sizes:
            # Alternate the libraries, warm each once, so neither gets a colder browser.
            for lib in ("uplot", "echarts"):
                page.evaluate(MEASURE, [lib, min(n, 1000), 5])
                times: list[float] = page.evaluate(MEASURE, [lib, n, args.updates])
                results[lib][n] = _stats(times)
                print(f"{lib:8} {n:>7} points x3: {results[lib][n]}", file=sys.stderr)
        version = page.evaluate("() => echarts.version")
        browser.close()
    top = sizes[-1]
    summary: dict[str, Any] = {
        "points_per_line": top,
        "lines": 3,
        "updates": args.updates,
        "uplot_p95_ms": results["uplot"][top]["p95_ms"],
        "echarts_p95_ms": results["echarts"][top]["p95_ms"],
        "echarts_over_uplot_p95": round(
            results["echarts"][top]["p95_ms"] / max(results["uplot"][top]["p95_ms"], 0.01), 2
        ),
        "frame_ms": round(FRAME_MS, 1),
        "echarts_version": version,
        "by_size": {lib: {str(n): r for n, r in rows.items()} for lib, rows in results.items()},
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
