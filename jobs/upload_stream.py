"""`PATCH /api/v1/uploads/<id>/`: request bodies streamed straight into the staging file.

Django's ASGI handler reads a whole body into a temporary file before any view runs, which
would write every byte twice. This small ASGI app takes the PATCH of an upload before Django
does and writes each chunk as it arrives, hashing it on the way, so memory stays flat and the
bytes are written once. The protocol follows tus' core: the client sends `Upload-Offset` (the
bytes it believes are stored) and `Content-Type: application/offset+octet-stream`; the answer
is 204 with the new `Upload-Offset`. After a dropped connection, `HEAD` tells the offset to
resume from.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from pathlib import Path
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user
from django.contrib.auth.models import AnonymousUser
from django.core.handlers.asgi import ASGIRequest
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.module_loading import import_string
from rest_framework.authtoken.models import Token

from jobs import selectors, services
from jobs.models import Upload

BATCH_BYTES = 1 << 20
IN_FLIGHT = 3
_WRITERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="upload-writer")
PATH = re.compile(r"^/api/v1/uploads/(?P<id>[0-9a-f-]{36})/$")
CONTENT_TYPE = "application/offset+octet-stream"
ASGIApp = Any


def _no_response(request: Any) -> Any:
    """Stands in for a view: only the CSRF middleware's verdict is wanted."""


def _user_and_upload(scope: dict[str, Any], upload_id: str) -> tuple[int, str, Upload | None]:
    """Authenticate like the REST API (token, or session plus CSRF header) and find the upload."""
    request = ASGIRequest(scope, BytesIO())
    header = request.META.get("HTTP_AUTHORIZATION", "")
    user: Any = AnonymousUser()
    if header.startswith("Token "):
        token = Token.objects.select_related("user").filter(key=header[6:].strip()).first()
        if token and token.user.is_active:
            user = token.user
    else:
        from django.conf import settings

        engine = import_string(settings.SESSION_ENGINE)
        request.session = engine.SessionStore(request.COOKIES.get(settings.SESSION_COOKIE_NAME))
        user = get_user(request)
        if user.is_authenticated:
            refused = CsrfViewMiddleware(_no_response).process_view(request, _no_response, (), {})
            if refused is not None:
                return 403, "CSRF check failed: send the X-CSRFToken header.", None
    if not user.is_authenticated:
        return 401, "Authentication credentials were not provided.", None
    upload = selectors.upload_list(user=user).filter(pk=upload_id).first()
    if upload is None:
        return 404, "No such upload.", None
    return 200, "", upload


async def _answer(send: Any, status: int, body: dict[str, Any] | None, offset: int | None) -> None:
    headers = [(b"tus-resumable", b"1.0.0"), (b"cache-control", b"no-store")]
    if offset is not None:
        headers.append((b"upload-offset", str(offset).encode()))
    payload = b""
    if body is not None:
        payload = json.dumps(body).encode()
        headers.append((b"content-type", b"application/json"))
    headers.append((b"content-length", str(len(payload)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def _drain(receive: Any) -> None:
    message = {"more_body": True}
    while message.get("more_body"):
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def stream_patch(scope: dict[str, Any], receive: Any, send: Any, upload_id: str) -> None:
    """Append the request body to the upload at the offset the client names."""
    status, message, upload = await sync_to_async(_user_and_upload)(scope, upload_id)
    if upload is None:
        await _drain(receive)
        await _answer(send, status, {"detail": message}, None)
        return
    headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
    if headers.get("content-type", "").split(";")[0].strip() != CONTENT_TYPE:
        await _drain(receive)
        await _answer(send, 415, {"detail": f"Send the bytes as {CONTENT_TYPE}."}, upload.offset)
        return
    try:
        claimed = int(headers.get("upload-offset", ""))
    except ValueError:
        claimed = -1
    if claimed != upload.offset:
        await _drain(receive)
        await _answer(
            send,
            409,
            {"detail": f"Upload-Offset must be {upload.offset}, the bytes stored so far."},
            upload.offset,
        )
        return
    path = services.upload_staging_path(upload)
    # The hash state of an interrupted request is gone; rebuilding it costs one read of the
    # bytes already stored, and only on resume.
    digest = await sync_to_async(services.file_digest)(path, upload.offset)
    offset, too_large = await _append(receive, path, upload.offset, upload.size, digest)
    sha256 = digest.hexdigest() if offset == upload.size else ""
    await sync_to_async(services.upload_advance)(upload_id=upload_id, offset=offset, sha256=sha256)
    if too_large:
        await _answer(
            send,
            413,
            {"detail": f"The upload was announced as {upload.size} bytes; more were sent."},
            offset,
        )
        return
    await _answer(send, 204, None, offset)


async def _append(
    receive: Any, path: Path, offset: int, size: int, digest: Any
) -> tuple[int, bool]:
    """Write the body at `offset`; return the new offset and whether too much was sent.

    Hashing (on this upload's own thread, so batches are hashed in order) and writing (each
    batch at its own position, on the shared writers) run a batch of about 1 MiB at a time
    while the event loop receives the next ones: sha256 and the write system call release
    the GIL, so the upload runs at the speed of the slowest of the three rather than their
    sum. At most IN_FLIGHT batches are in memory.
    """
    loop = asyncio.get_running_loop()
    in_flight: collections.deque[tuple[asyncio.Future[None], ...]] = collections.deque()
    parts: list[bytes] = []
    buffered = 0
    too_large = False
    hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload-hash")
    with path.open("r+b", buffering=0) as out:
        out.seek(offset)
        out.truncate()
        _reserve(out.fileno(), offset, size)

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
                    loop.run_in_executor(_WRITERS, _write_all, out.fileno(), batch, at),
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
            while in_flight:
                for future in in_flight.popleft():
                    await future
            hasher.shutdown()
        if offset < size:
            out.truncate(offset)  # the file holds exactly the bytes stored, to resume from
    return offset, too_large


def _reserve(fd: int, offset: int, size: int) -> None:
    """Allocate the rest of the file before writing: the disk's blocks are found once (writes
    into them are cheaper, a full disk fails now rather than halfway) where it is supported."""
    with contextlib.suppress(OSError, AttributeError):
        os.posix_fallocate(fd, offset, size - offset)


def _write_all(fd: int, parts: list[bytes], at: int) -> None:
    """Write every byte of `parts` at offset `at`, with as few system calls as possible."""
    views = [memoryview(p) for p in parts if p]
    while views:
        written = os.pwritev(fd, views[:1024], at)
        at += written
        while views and written >= len(views[0]):
            written -= len(views[0])
            views.pop(0)
        if written:
            views[0] = views[0][written:]


class UploadStreamMiddleware:
    """Routes upload PATCHes to `stream_patch`; everything else goes on to Django."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "PATCH":
            match = PATH.match(scope["path"])
            if match:
                await stream_patch(scope, receive, send, match["id"])
                return
        await self.app(scope, receive, send)
