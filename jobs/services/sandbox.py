"""Reading an untrusted file in a child process held to memory and time limits.

The readers refuse the hostile files they know (jobs/engine/io/limits.py); this catches the
rest: a reader that crashes (a C extension's stack overflow, say) or runs out of memory fails
the one dataset with a reason, and the worker that asked carries on. The child only reads:
every database write stays in the parent, which the child tells of its progress by a pipe.

The memory limit is on the child's whole resident memory, the worker's pages it starts with
included (Keras and torch: 500-650 MB), since those are its size as anyone measures it. The
kernel has no such limit without cgroups, and one on address space cannot stand in for it:
Arrow's allocators map far more than they touch (mimalloc reserves a 1 GiB arena at once),
and a total of 1 GiB of address space failed an ordinary 300 MB CSV. So the parent watches
the child's resident size and stops it past the limit; the address-space limit stays as the
immediate stop for an allocation faster than the watch.
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import os
import resource
import signal
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from jobs.engine.data import DataError

Progress = Callable[[float], None]
_PR_SET_PDEATHSIG = 1
# How often the parent checks the child's resident size: at a few GB/s of page faults, a
# child passes the limit by a few tens of MB at most before it is stopped.
_WATCH_SECONDS = 0.02
_OVER_THE_LIMIT: tuple[str, Any] = ("memory", "")  # as the child says of a MemoryError
# A process that already holds nearly its limit (one that grew over a long life, such as a
# test run's) still gives a reader this much room over what it holds, rather than refusing
# every file.
MIN_ROOM_BYTES = 256 << 20


def _statm(pid: int | str, field: int) -> int:
    """One field of /proc/<pid>/statm in bytes (0: the address space, 1: resident); 0 once
    the process is gone."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
            pages = int(statm.read().split()[field])
    except (OSError, IndexError):
        return 0
    return pages * resource.getpagesize()


def resident_bytes(pid: int | str = "self") -> int:
    """A process's resident memory (0 once it is gone), as `ps` and the benchmarks count it."""
    return _statm(pid, 1)


def _child(
    work: Callable[[Progress], dict[str, Any]],
    send: Connection,
    memory_bytes: int,
    cpu_seconds: int,
) -> None:
    # A crash is reported by the parent, in words; the traceback dump would only be noise.
    faulthandler.disable()
    # Killed with its parent (a worker killed mid-profile), rather than reading on alone.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    # Over what the process already maps (a worker may have imported Keras); the total is
    # the parent's watch (see the module's docstring).
    limit = _statm("self", 0) + memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    try:
        send.send(("ok", work(lambda fraction: send.send(("progress", fraction)))))
    except DataError as exc:
        send.send(("refused", str(exc)))
    except MemoryError:
        send.send(("memory", ""))
    except BaseException as exc:  # reported to the parent, which decides
        send.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        send.close()


def run_limited(
    work: Callable[[Progress], dict[str, Any]],
    progress: Progress,
    *,
    memory_bytes: int,
    seconds: int,
) -> dict[str, Any]:
    """work(progress) run in a forked child; its result, or DataError with the reason.

    memory_bytes bounds the child's resident memory in all, what it shares with this process
    included.

    progress is called in this process for each fraction the child reports, and at least
    once a second with the last one (it doubles as the caller's heartbeat); whatever it
    raises stops the child.
    """
    memory_bytes = max(memory_bytes, resident_bytes() + MIN_ROOM_BYTES)
    # os.fork, not multiprocessing: a Celery pool process counts as daemonic there, and
    # daemonic processes may not start children.
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; its outcome comes back by the pipe
        os.close(read_fd)
        try:
            _child(work, Connection(write_fd, readable=False), memory_bytes, seconds)
        finally:
            os._exit(0)
    os.close(write_fd)
    receive = Connection(read_fd, writable=False)
    deadline = time.monotonic() + seconds
    fraction = 0.0
    beat = time.monotonic()
    outcome: tuple[str, Any] | None = None
    try:
        while outcome is None:
            now = time.monotonic()
            if now > deadline:
                raise DataError(
                    f"Reading the file took more than {seconds} s; split it into smaller files."
                )
            if resident_bytes(pid) > memory_bytes:
                outcome = _OVER_THE_LIMIT
                break
            if not receive.poll(_WATCH_SECONDS):
                if now - beat >= 1.0:
                    progress(fraction)
                    beat = now
                continue
            try:
                kind, value = receive.recv()
            except EOFError:
                break  # the child died without a word
            if kind == "progress":
                fraction = value
                progress(fraction)
                beat = time.monotonic()
            else:
                outcome = (kind, value)
    finally:
        # Past its outcome a child only exits; one still reading is stopped here.
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        receive.close()
    if outcome is None:
        name = signal.Signals(-code).name if code < 0 else f"exit status {code}"
        reason = "memory" if code == -signal.SIGKILL else "a crash"
        raise DataError(
            f"The reader stopped on this file ({name}, {reason}); it is probably damaged or "
            "built to exhaust the reader. Check it opens elsewhere, or save it again as CSV."
        )
    kind, value = outcome
    if kind == "ok":
        result: dict[str, Any] = value
        return result
    if kind == "refused":
        raise DataError(value)
    if kind == "memory":
        raise DataError(
            f"Reading the file needed more than {memory_bytes >> 20} MB of memory; split it, "
            "or drop columns it does not need."
        )
    raise RuntimeError(value)
