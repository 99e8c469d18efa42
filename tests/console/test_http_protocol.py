"""The web server's HTTP protocol lends a request's socket to the app, under a real uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import select
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from console.http_protocol import EXTENSION, QUIET, BodySocketProtocol


def _read_exact(fd: int, count: int) -> bytes:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    parts, got = [], 0
    while got < count:
        try:
            part = os.read(fd, count - got)
        except BlockingIOError:
            poller.poll(5000)
            continue
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


async def _reply(send: Any, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """`/take` reads its body from the socket, `/half` reads half of it that way, and
    `/receive` reads it through ASGI; each answers with what it read."""
    body_socket = scope.get("extensions", {}).get(EXTENSION)
    loop = asyncio.get_running_loop()
    if scope["path"] == "/quiet":
        scope["extensions"][QUIET]()
    if scope["path"] in ("/take", "/half"):
        held, fd, remaining = body_socket.take()
        wanted = remaining if scope["path"] == "/take" else remaining // 2
        body = held + await loop.run_in_executor(None, _read_exact, fd, wanted)
        body_socket.give_back(complete=len(body) == body_socket.content_length)
    else:
        parts, more = [], True
        while more:
            message = await receive()
            parts.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(parts)
    await _reply(send, {"length": len(body), "sha256": hashlib.sha256(body).hexdigest(),
                        "offered": body_socket is not None})  # fmt: skip


@contextlib.contextmanager
def serving(**options: Any) -> Iterator[int]:
    """A real uvicorn with the console's protocol, on a thread; yields its port."""
    options.setdefault("log_level", "warning")
    config = uvicorn.Config(app, host="127.0.0.1", port=0, http=BodySocketProtocol,
                            lifespan="off", **options)  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with serving() as bound:
        yield bound


def _request(path: str, body: bytes, extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


def _response(raw: socket.socket, pending: bytearray) -> tuple[dict[str, str], dict[str, Any]]:
    """One response read off a raw connection; bytes past it stay in `pending`."""
    while b"\r\n\r\n" not in pending:
        pending += raw.recv(65536)
    head, _, rest = bytes(pending).partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers["content-length"])
    while len(rest) < length:
        rest += raw.recv(65536)
    pending[:] = rest[length:]
    return headers, json.loads(rest[:length])


def test_a_taken_body_leaves_the_connection_ready_for_the_next_request(port: int) -> None:
    # given a 3 MiB body whose first bytes arrive with the headers and the rest later, and a
    # second request right behind it on the same connection
    body = os.urandom(3 << 20)
    first = _request("/take", body)
    cut = first.index(b"\r\n\r\n") + 4 + 1000
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(first[:cut])
        time.sleep(0.2)
        raw.sendall(first[cut:] + _request("/receive", b"next"))

        # then the app read the whole body from the socket
        pending = bytearray()
        headers, answer = _response(raw, pending)
        assert answer == {"length": len(body), "sha256": hashlib.sha256(body).hexdigest(),
                          "offered": True}  # fmt: skip
        assert headers.get("connection") != "close"

        # and the request behind it was parsed from its first byte
        _, second = _response(raw, pending)
        assert second["length"] == 4
        assert second["sha256"] == hashlib.sha256(b"next").hexdigest()


def test_a_body_left_half_read_closes_the_connection(port: int) -> None:
    body = os.urandom(1 << 20)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:

        def send() -> None:
            # The server hangs up with most of the body unsent, which ends this with a reset.
            with contextlib.suppress(OSError):
                raw.sendall(_request("/half", body))

        sender = threading.Thread(target=send)
        sender.start()
        pending = bytearray()
        headers, answer = _response(raw, pending)
        assert 0 < answer["length"] < len(body)
        # the unread rest must not be taken for a request: the server hangs up instead
        assert headers["connection"] == "close"
        raw.settimeout(5)
        try:
            while raw.recv(65536):
                pass
        except ConnectionResetError:
            pass
        sender.join(timeout=10)


def test_apps_that_ignore_the_socket_read_the_body_as_usual(port: int) -> None:
    body = os.urandom((1 << 20) + 7)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        posted = client.post("/receive", content=body).json()
        assert posted == {"length": len(body), "sha256": hashlib.sha256(body).hexdigest(),
                          "offered": True}  # fmt: skip

        # a request without a body, or with a chunked one, is not offered the socket
        assert client.get("/receive").json()["offered"] is False
        chunked = client.post("/receive", content=iter([b"ab", b"cd"])).json()
        assert (chunked["length"], chunked["offered"]) == (4, False)


def test_a_client_expecting_100_continue_is_told_to_send_the_body(port: int) -> None:
    body = os.urandom(200_000)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(_request("/take", b"", "Expect: 100-continue\r\n").replace(
            b"Content-Length: 0", f"Content-Length: {len(body)}".encode()
        ))  # fmt: skip
        # the client holds the body back until the server asks for it
        assert raw.recv(4096).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        raw.sendall(body)
        _, answer = _response(raw, bytearray())
        assert answer["sha256"] == hashlib.sha256(body).hexdigest()


def test_a_request_can_leave_itself_out_of_the_access_log() -> None:
    class Lines(logging.Handler):
        paths: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.paths.append(str(record.args[2]))  # type: ignore[index]

    lines = Lines()
    with (
        serving(log_level="info") as info_port,
        httpx.Client(base_url=f"http://127.0.0.1:{info_port}") as client,
    ):
        # uvicorn's access logger does not propagate to the root: listen on it directly
        logging.getLogger("uvicorn.access").addHandler(lines)
        try:
            assert client.post("/quiet", content=b"a").status_code == 200
            assert client.post("/receive", content=b"b").status_code == 200
            assert client.post("/quiet", content=b"c").status_code == 200
        finally:
            logging.getLogger("uvicorn.access").removeHandler(lines)
    # only the request that did not ask to be left out was logged, once
    assert lines.paths == ["/receive"]


def test_the_socket_is_not_lent_under_tls(tmp_path: Any) -> None:
    # Under TLS the socket carries encrypted records: an app reading it would store those.
    key, cert = _self_signed(tmp_path)
    trusted = ssl.create_default_context(cafile=str(cert))
    with (
        serving(ssl_keyfile=str(key), ssl_certfile=str(cert)) as tls_port,
        httpx.Client(base_url=f"https://127.0.0.1:{tls_port}", verify=trusted) as client,
    ):
        answer = client.post("/receive", content=b"secret").json()
    assert (answer["length"], answer["offered"]) == (6, False)


def _self_signed(folder: Any) -> tuple[Any, Any]:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = folder / "key.pem", folder / "cert.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path
