"""Moving an upload's bytes into its staging file: received, hashed and written at once.

Two ways in, one way out. When the web server lends the request's socket
(`console.http_protocol`), a thread reads the body straight from it into a few reusable
buffers; otherwise the body comes through ASGI `receive()`. Either way each batch is hashed
in order on the upload's own thread and written at its offset on the shared writers while the
next batch arrives (sha256, readv and pwritev all release the GIL), the disk starts on each
batch as soon as it is written, and the answer waits for `fdatasync`: the offset a client is
told is on disk, not in the page cache.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ctypes
import ctypes.util
import os
import select
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BATCH_BYTES = 2 << 20
IN_FLIGHT = 4
# A client silent this long has gone; what it sent is kept, to resume from.
STALL_SECONDS = 120.0
_WRITERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="upload-writer")
# Each upload that reads its socket itself holds a receiver thread and (IN_FLIGHT + 1) x
# BATCH_BYTES of buffers while its bytes come; past RECEIVERS at once, uploads go through
# receive() instead, so slow clients cannot hold up the others.
RECEIVERS = 16
_RECEIVERS = ThreadPoolExecutor(max_workers=RECEIVERS, thread_name_prefix="upload-receiver")
_receiver_slots = threading.BoundedSemaphore(RECEIVERS)
_SYNC_FILE_RANGE_WRITE = 2
try:
    _LIBC: Any = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    _sync_file_range: Any = _LIBC.sync_file_range
except (OSError, AttributeError, TypeError):
    _sync_file_range = None


@dataclass
class _Staged:
    fd: int
    stored: int  # the end of the bytes written so far, set by the caller


@contextlib.contextmanager
def _staging(path: Path, offset: int, size: int) -> Iterator[_Staged]:
    """The staging file opened at `offset`, its rest reserved. On the way out the file is cut
    to exactly the bytes stored (what a resume starts from) and made durable."""
    with path.open("r+b", buffering=0) as out:
        out.truncate(offset)
        _reserve(out.fileno(), offset, size)
        staged = _Staged(out.fileno(), offset)
        try:
            yield staged
        finally:
            if staged.stored < size:
                out.truncate(staged.stored)
            os.fdatasync(out.fileno())


async def append(
    body_socket: Any, receive: Any, path: Path, offset: int, size: int, digest: Any
) -> tuple[int, bool]:
    """Store the request body at `offset`, from the lent socket where there is one and a
    receiver is free, else through `receive()`; return the new offset and whether the body
    went past the upload's announced size."""
    if body_socket is not None and _receiver_slots.acquire(blocking=False):
        try:
            return await append_from_socket(body_socket, path, offset, size, digest), False
        finally:
            _receiver_slots.release()
    return await append_from_receive(receive, path, offset, size, digest)


async def append_from_socket(
    body_socket: Any, path: Path, offset: int, size: int, digest: Any
) -> int:
    """Store the body read straight from the request's socket at `offset`; return the new
    offset. The caller has checked that the body's Content-Length fits the upload."""
    held, sock, remaining = body_socket.take()
    stored, complete = 0, False
    loop = asyncio.get_running_loop()
    try:
        with _staging(path, offset, size) as out:
            stored, complete = await loop.run_in_executor(
                _RECEIVERS, _copy_socket, sock, held, remaining, out.fd, offset,
                size - offset, digest,
            )  # fmt: skip
            out.stored = offset + stored
    finally:
        body_socket.give_back(complete=complete)
    return offset + stored


def _copy_socket(
    sock: int, held: bytes, remaining: int, out: int, at: int, room: int, digest: Any
) -> tuple[int, bool]:
    """Receive the body's `remaining` bytes (after `held`) into the file at `at`, at most
    `room` bytes in all; return how many were stored and whether the whole body was read.

    Batches cycle through IN_FLIGHT + 1 buffers: while one fills from the socket, the ones
    before it are hashed and written.
    """
    hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload-hash")
    buffers = [bytearray(BATCH_BYTES) for _ in range(IN_FLIGHT + 1)]
    pending: list[tuple[Future[Any], ...]] = [() for _ in buffers]
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    first = memoryview(held)[:room]
    wanted = min(remaining, room - len(first))
    stored = got = 0

    def hand_over(index: int, chunk: memoryview) -> None:
        nonlocal stored
        pending[index] = (
            hasher.submit(digest.update, chunk),
            _WRITERS.submit(_write_all, out, [chunk], at + stored),
        )
        stored += len(chunk)

    try:
        if first:
            hand_over(0, first)
        turn, eof = 1, False
        while got < wanted and not eof:
            index = turn % len(buffers)
            turn += 1
            for future in pending[index]:
                future.result()
            view = memoryview(buffers[index])[: min(BATCH_BYTES, wanted - got)]
            filled = _fill(sock, poller, view)
            eof = filled < len(view)
            got += filled
            if filled:
                hand_over(index, view[:filled])
    finally:
        # Every write ends before the caller closes the file, even after one failed (a full
        # disk): a write still running could otherwise land in whatever file reuses the fd.
        failed = _settle([future for futures in pending for future in futures])
        hasher.shutdown()
        if failed is not None:
            raise failed
    return stored, got == remaining


def _settle(futures: list[Future[Any]]) -> BaseException | None:
    """Wait for every future; the first one's error, if any failed."""
    failed: BaseException | None = None
    for future in futures:
        try:
            future.result()
        except Exception as exc:
            failed = failed or exc
    return failed


def _fill(sock: int, poller: Any, view: memoryview) -> int:
    """Read from the socket until `view` is full or the client stops; return the count."""
    filled = 0
    deadline = time.monotonic() + STALL_SECONDS
    while filled < len(view):
        try:
            count = os.readv(sock, [view[filled:]])
        except BlockingIOError:
            wait = deadline - time.monotonic()
            if wait <= 0 or not poller.poll(wait * 1000):
                return filled
            continue
        except OSError:  # reset by the client
            return filled
        if count == 0:
            return filled
        filled += count
        deadline = time.monotonic() + STALL_SECONDS
    return filled


async def append_from_receive(
    receive: Any, path: Path, offset: int, size: int, digest: Any
) -> tuple[int, bool]:
    """Store the body that ASGI `receive()` hands over at `offset`; return the new offset and
    whether too much was sent. At most IN_FLIGHT batches are in memory."""
    loop = asyncio.get_running_loop()
    in_flight: collections.deque[tuple[asyncio.Future[None], ...]] = collections.deque()
    parts: list[bytes] = []
    buffered = 0
    too_large = False
    hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload-hash")
    with _staging(path, offset, size) as out:

        def hash_parts(batch: list[bytes]) -> None:
            for part in batch:
                digest.update(part)

        async def hand_over(batch: list[bytes], at: int) -> None:
            while len(in_flight) >= IN_FLIGHT:
                for future in in_flight.popleft():
                    await future
            in_flight.append(
                (
                    loop.run_in_executor(hasher, hash_parts, batch),
                    loop.run_in_executor(_WRITERS, _write_all, out.fd, batch, at),
                )
            )

        try:
            more = True
            while more:
                event = await receive()
                if event["type"] == "http.disconnect":
                    break
                chunk = event.get("body", b"")
                more = event.get("more_body", False)
                if offset + buffered + len(chunk) > size:
                    too_large = True
                    break
                parts.append(chunk)
                buffered += len(chunk)
                if buffered >= BATCH_BYTES or not more:
                    await hand_over(parts, offset)
                    offset += buffered
                    parts, buffered = [], 0
            if parts:
                # What arrived before a disconnect or an oversized chunk is kept, to resume.
                await hand_over(parts, offset)
                offset += buffered
        finally:
            # As in _copy_socket: all writes end before the file closes, failed or not.
            failed: Exception | None = None
            while in_flight:
                for future in in_flight.popleft():
                    try:
                        await future
                    except Exception as exc:
                        failed = failed or exc
            hasher.shutdown()
            if failed is not None:
                raise failed
            out.stored = offset
    return offset, too_large


def _reserve(fd: int, offset: int, size: int) -> None:
    """Allocate the rest of the file before writing: the disk's blocks are found once (writes
    into them are cheaper, a full disk fails now rather than halfway) where it is supported."""
    with contextlib.suppress(OSError, AttributeError):
        os.posix_fallocate(fd, offset, size - offset)


def _write_all(fd: int, parts: list[Any], at: int) -> None:
    """Write every byte of `parts` at offset `at`, with as few system calls as possible, then
    start the disk on them without waiting (so the final fdatasync has only the tail left)."""
    views = [memoryview(p) for p in parts if p]
    start, total = at, sum(len(v) for v in views)
    while views:
        written = os.pwritev(fd, views[:1024], at)
        at += written
        while views and written >= len(views[0]):
            written -= len(views[0])
            views.pop(0)
        if written:
            views[0] = views[0][written:]
    if _sync_file_range is not None and total:
        _sync_file_range(
            fd, ctypes.c_int64(start), ctypes.c_int64(total), ctypes.c_uint(_SYNC_FILE_RANGE_WRITE)
        )
