"""An upload's bytes on their way into the staging file: from a lent socket or from ASGI."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from jobs import upload_pipeline


class LentSocket:
    """The web server's side of `console.body_socket`, over one end of a socket pair."""

    def __init__(self, sock: socket.socket, held: bytes, content_length: int) -> None:
        sock.setblocking(False)
        self.sock, self.held, self.content_length = sock, held, content_length
        self.given_back: bool | None = None

    def take(self) -> tuple[bytes, int, int]:
        return self.held, self.sock.fileno(), self.content_length - len(self.held)

    def give_back(self, *, complete: bool) -> None:
        self.given_back = complete


def _staging(tmp_path: Path, stored: bytes = b"") -> Path:
    path = tmp_path / "upload.part"
    path.write_bytes(stored)
    return path


def _send(peer: socket.socket, data: bytes, then_close: bool = True, pause: float = 0) -> None:
    def run() -> None:
        for start in range(0, len(data), 300_000):
            peer.sendall(data[start : start + 300_000])
            time.sleep(pause)
        if then_close:
            peer.close()

    threading.Thread(target=run, daemon=True).start()


def test_a_body_from_the_socket_is_stored_and_hashed_whole(tmp_path: Path) -> None:
    # given an upload of 6.5 MB with 1000 bytes stored earlier, and a body of the rest whose
    # first 5000 bytes the server already read with the headers
    data = os.urandom(6_500_000)
    path = _staging(tmp_path, data[:1000])
    ours, peer = socket.socketpair()
    lent = LentSocket(ours, data[1000:6000], len(data) - 1000)
    digest = hashlib.sha256(data[:1000])

    # when the rest arrives in pieces
    _send(peer, data[6000:], then_close=False)
    offset = asyncio.run(upload_pipeline.append_from_socket(lent, path, 1000, len(data), digest))

    # then every byte is in the file once, in order, hashed, and the socket goes back whole
    assert offset == len(data)
    assert path.read_bytes() == data
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
    assert lent.given_back is True
    peer.close()


def test_a_dropped_connection_keeps_what_arrived(tmp_path: Path) -> None:
    data = os.urandom(3_000_000)
    path = _staging(tmp_path)
    ours, peer = socket.socketpair()
    lent = LentSocket(ours, b"", len(data))
    digest = hashlib.sha256()

    _send(peer, data[:1_234_567])  # then the client is gone
    offset = asyncio.run(upload_pipeline.append_from_socket(lent, path, 0, len(data), digest))

    # the file holds exactly what arrived (no reserved tail), the hash covers just that, and
    # the server is told the body was not read whole, so it closes the connection
    assert offset == 1_234_567
    assert path.read_bytes() == data[:1_234_567]
    assert digest.hexdigest() == hashlib.sha256(data[:1_234_567]).hexdigest()
    assert lent.given_back is False


def test_a_silent_client_is_given_up_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upload_pipeline, "STALL_SECONDS", 0.5)
    data = os.urandom(1_000_000)
    path = _staging(tmp_path)
    ours, peer = socket.socketpair()
    lent = LentSocket(ours, b"", len(data))

    # a client that sends a part and then neither sends nor hangs up
    _send(peer, data[:400_000], then_close=False)
    started = time.monotonic()
    offset = asyncio.run(
        upload_pipeline.append_from_socket(lent, path, 0, len(data), hashlib.sha256())
    )

    assert offset == 400_000
    assert path.stat().st_size == 400_000
    assert time.monotonic() - started < 5
    assert lent.given_back is False
    peer.close()


def _receive(chunks: list[bytes], disconnect: bool = False) -> Any:
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1 or disconnect}
        for i, c in enumerate(chunks)
    ]
    if disconnect:
        messages.append({"type": "http.disconnect"})

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    return receive


def test_a_body_through_receive_is_stored_in_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(upload_pipeline, "BATCH_BYTES", 64 << 10)
    data = os.urandom(1_000_003)
    chunks = [data[i : i + 50_000] for i in range(0, len(data), 50_000)]
    path = _staging(tmp_path)
    digest = hashlib.sha256()

    offset, overflowed = asyncio.run(
        upload_pipeline.append_from_receive(_receive(chunks), path, 0, len(data), digest)
    )

    assert (offset, overflowed) == (len(data), False)
    assert path.read_bytes() == data
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()


def test_receive_keeps_what_arrived_before_a_disconnect_or_an_overflow(tmp_path: Path) -> None:
    path = _staging(tmp_path)
    offset, overflowed = asyncio.run(
        upload_pipeline.append_from_receive(
            _receive([b"a" * 10, b"b" * 10], disconnect=True), path, 0, 100, hashlib.sha256()
        )
    )
    assert (offset, overflowed) == (20, False)
    assert path.read_bytes() == b"a" * 10 + b"b" * 10

    # a chunked body that goes past the announced size stops before the chunk that overflows
    offset, overflowed = asyncio.run(
        upload_pipeline.append_from_receive(
            _receive([b"c" * 50, b"d" * 50]), path, 20, 100, hashlib.sha256()
        )
    )
    assert (offset, overflowed) == (70, True)
    assert path.read_bytes() == b"a" * 10 + b"b" * 10 + b"c" * 50


def test_uploads_past_the_free_receivers_go_through_receive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given every receiver thread busy with another upload
    monkeypatch.setattr(upload_pipeline, "_receiver_slots", threading.BoundedSemaphore(1))
    upload_pipeline._receiver_slots.acquire()
    ours, peer = socket.socketpair()
    lent = LentSocket(ours, b"", 10)
    path = _staging(tmp_path)

    # when one more upload comes with a lent socket
    offset, overflowed = asyncio.run(
        upload_pipeline.append(lent, _receive([b"0123456789"]), path, 0, 10, hashlib.sha256())
    )

    # then it is stored through receive(), and the socket was never taken
    assert (offset, overflowed) == (10, False)
    assert path.read_bytes() == b"0123456789"
    assert lent.given_back is None
    ours.close()
    peer.close()
