"""The load benchmark's view of the console's processes (bench/load.py): CPU, the long-lived
processes whose memory must stay flat over a soak, and the peak memory of the whole tree."""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

from bench.datasets import cmdline, rss_mb


def system_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return int(fields[12]) / os.sysconf("SC_CLK_TCK")


def redis_server() -> int:
    """The Redis server's pid (0 when it is not on this machine)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and cmdline(int(entry.name)).startswith("redis-server"):
            return int(entry.name)
    return 0


def long_lived(root: int) -> dict[int, str]:
    """runconsole and its direct children (web, predictor, worker parents), by pid: Celery's
    pool children run one task each and are replaced, so they cannot grow over a soak."""
    found = {root: "runconsole"}
    for pid in Path(f"/proc/{root}/task/{root}/children").read_text().split():
        found[int(pid)] = cmdline(int(pid))[:80]
    return found


class PeakMemory(threading.Thread):
    """The largest resident memory of runconsole and everything under it, overall and by
    place in the tree ("worker-short > pool > child": a short worker's pool process's forked
    reader), so that a peak names its process."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.peak = 0.0
        self.by_process: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for pid, label in self._tree():
                rss = rss_mb(pid)
                self.peak = max(self.peak, rss)
                self.by_process[label] = max(self.by_process.get(label, 0.0), rss)
            self.stop.wait(0.05)

    def _tree(self) -> list[tuple[int, str]]:
        found, frontier = [(self.root, "runconsole")], [(self.root, "")]
        while frontier:
            parent, label = frontier.pop()
            with contextlib.suppress(OSError):
                for pid in Path(f"/proc/{parent}/task/{parent}/children").read_text().split():
                    name = f"{label} > {depth_name(label)}" if label else program(int(pid))
                    found.append((int(pid), name))
                    frontier.append((int(pid), name))
        return found


def program(pid: int) -> str:
    line = cmdline(pid)
    for name, mark in (("worker-short", " -n short-"), ("worker", " -n worker-"),
                       ("predictor", "predictor_asgi"), ("web", "console.asgi")):  # fmt: skip
        if mark in line:
            return name
    return line[:40]


def depth_name(label: str) -> str:
    return "pool" if label.count(">") == 0 else "child"
