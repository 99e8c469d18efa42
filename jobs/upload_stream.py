"""`PATCH /api/v1/uploads/<id>/`: request bodies streamed straight into staging.

Django's ASGI handler reads a whole body into a temporary file before any view runs, which
would write every byte twice. This small ASGI app takes the PATCH of an upload before Django
does and writes each chunk as it arrives, hashing it on the way, so memory stays flat and the
bytes are written once. The protocol follows tus' core: the client sends `Upload-Offset` (the
bytes it believes are stored) and `Content-Type: application/offset+octet-stream`; the answer
is 204 with the new `Upload-Offset`. After a dropped connection, `HEAD` tells the offset to
resume from.

Where the bytes go is `jobs.services.uploads`' choice: on local storage, appended to the
upload's one staging file under its lock; on a remote store, spooled to a private temporary
file as they come, then stored as one object (a part) the upload's row records, so any web
replica can take any request of an upload.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from io import BytesIO
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user
from django.contrib.auth.models import AnonymousUser
from django.core.handlers.asgi import ASGIRequest
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.module_loading import import_string

from console import errors, tokens
from console.http_protocol import EXTENSION as BODY_SOCKET
from jobs import selectors, services
from jobs.models import Upload
from jobs.upload_pipeline import append

PATH = re.compile(r"^/api/v1/uploads/(?P<id>[0-9a-f-]{36})/$")
CONTENT_TYPE = "application/offset+octet-stream"
logger = logging.getLogger(__name__)
# A request finds the staging file locked by another for at most this long before a 423.
LOCK_TRIES = 20
LOCK_PAUSE_SECONDS = 0.05
ASGIApp = Any


def _no_response(request: Any) -> Any:
    """Stands in for a view: only the CSRF middleware's verdict is wanted."""


def _user_and_upload(scope: dict[str, Any], upload_id: str) -> tuple[int, str, Upload | None]:
    """Authenticate like the REST API (token, or session plus CSRF header) and find the upload."""
    request = ASGIRequest(scope, BytesIO())
    header = request.META.get("HTTP_AUTHORIZATION", "")
    user: Any = AnonymousUser()
    if header.split(" ")[0].lower() in ("token", "bearer"):
        found = tokens.resolve(header.split(" ", 1)[-1].strip())
        if found is None:
            return 401, "Invalid, expired or revoked token.", None
        if "write" not in found.scopes:
            return 403, "This token's scope does not allow this request.", None
        user = found.user
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
        payload = json.dumps(errors.shape(status, body)).encode()
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


def _content_length(headers: dict[str, str]) -> int:
    try:
        return int(headers.get("content-length", "0"))
    except ValueError:
        return 0


STORAGE_REFUSED = "The storage did not take the bytes; resume from Upload-Offset later."


class _Unhashed:
    """Stands in for the hash where it is taken when the parts are put together."""

    def update(self, data: Any) -> None:
        pass


def _refusal(upload: Upload, claimed: int, headers: dict[str, str]) -> tuple[int, str] | None:
    """Why the body cannot go at `claimed`, before a byte of it is stored; None if it can."""
    if claimed != upload.offset:
        return 409, f"Upload-Offset must be {upload.offset}, the bytes stored so far."
    if _content_length(headers) > upload.size - upload.offset:
        # Refused before a byte is stored: the upload stays as it was, to resume correctly.
        return 413, f"The upload was announced as {upload.size} bytes; more were sent."
    return None


def _reload(upload_id: str) -> Upload | None:
    return Upload.objects.filter(pk=upload_id).first()


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
    body_socket = scope.get("extensions", {}).get(BODY_SOCKET)
    if services.staging_is_local():
        await _patch_file(upload, claimed, headers, body_socket, receive, send)
    else:
        await _patch_part(upload, claimed, headers, body_socket, receive, send)


async def _patch_file(
    upload: Upload,
    claimed: int,
    headers: dict[str, str],
    body_socket: Any,
    receive: Any,
    send: Any,
) -> None:
    """Local storage: append to the one staging file, holding its lock meanwhile."""
    with contextlib.ExitStack() as held:
        path = None
        for _ in range(LOCK_TRIES):
            try:
                path = held.enter_context(services.upload_staging_lock(upload))
                break
            except services.UploadBusy:
                # The request before may be between storing its last bytes and letting go.
                await asyncio.sleep(LOCK_PAUSE_SECONDS)
            except FileNotFoundError:
                await _drain(receive)
                await _answer(send, 404, {"detail": "No such upload."}, None)
                return
        if path is None:
            await _drain(receive)
            # 423, as tus servers answer a locked upload: tus clients retry it after a pause.
            detail = (
                "Another request is sending bytes to this upload. Retry shortly: ask HEAD for "
                "the offset, then resume from it."
            )
            await _answer(send, 423, {"detail": detail}, upload.offset)
            return
        # Whoever held the lock before may have moved the offset, or ended the upload.
        fresh = await sync_to_async(_reload)(str(upload.pk))
        if fresh is None:
            await _drain(receive)
            await _answer(send, 404, {"detail": "No such upload."}, None)
            return
        upload = fresh
        refused = _refusal(upload, claimed, headers)
        if refused is not None:
            await _drain(receive)
            await _answer(send, refused[0], {"detail": refused[1]}, upload.offset)
            return
        # The hash state of an interrupted request is gone; rebuilding it costs one read of
        # the bytes already stored, and only on resume.
        digest = await sync_to_async(services.file_digest)(path, upload.offset)
        try:
            offset, overflowed = await append(
                body_socket, receive, path, upload.offset, upload.size, digest
            )
        except OSError as exc:
            if not errors.is_out_of_space(exc):
                raise
            # The staging file was cut back to the recorded offset (upload_pipeline._staging):
            # the client resumes from there once space is freed.
            await _answer(send, 507, {"detail": errors.NO_SPACE}, upload.offset)
            return
        sha256 = digest.hexdigest() if offset == upload.size else ""
        await sync_to_async(services.upload_advance)(
            upload_id=upload.pk, start=upload.offset, offset=offset, sha256=sha256
        )
    await _answer_stored(send, upload, offset, overflowed)


async def _patch_part(
    upload: Upload,
    claimed: int,
    headers: dict[str, str],
    body_socket: Any,
    receive: Any,
    send: Any,
) -> None:
    """Remote storage: the body becomes one object; the offset moves only if no other
    request moved it meanwhile."""
    refused = _refusal(upload, claimed, headers)
    if refused is not None:
        await _drain(receive)
        await _answer(send, refused[0], {"detail": refused[1]}, upload.offset)
        return
    spool = services.upload_spool()
    part = ""
    try:
        received, overflowed = await append(
            body_socket, receive, spool, 0, upload.size - upload.offset, _Unhashed()
        )
        if received:
            part = await sync_to_async(services.upload_part_store)(
                upload=upload, offset=upload.offset, path=spool
            )
    except OSError as exc:
        if not errors.is_out_of_space(exc):
            logger.exception("Could not store bytes of upload %s", upload.pk)
            await _answer(send, 503, {"detail": STORAGE_REFUSED}, upload.offset)
            return
        # This process's spool ran out of room: nothing of the body counts.
        await _answer(send, 507, {"detail": errors.NO_SPACE}, upload.offset)
        return
    except Exception:
        logger.exception("Could not store bytes of upload %s", upload.pk)
        await _answer(send, 503, {"detail": STORAGE_REFUSED}, upload.offset)
        return
    finally:
        spool.unlink(missing_ok=True)
    offset = upload.offset + received
    moved = await sync_to_async(services.upload_advance)(
        upload_id=upload.pk, start=upload.offset, offset=offset, part=part
    )
    if not moved:
        if part:
            await sync_to_async(services.upload_part_discard)(name=part)
        fresh = await sync_to_async(_reload)(str(upload.pk))
        if fresh is None:
            await _answer(send, 404, {"detail": "No such upload."}, None)
            return
        detail = (
            "Another request stored bytes of this upload first; resume from Upload-Offset "
            f"{fresh.offset}."
        )
        await _answer(send, 409, {"detail": detail}, fresh.offset)
        return
    await _answer_stored(send, upload, offset, overflowed)


async def _answer_stored(send: Any, upload: Upload, offset: int, overflowed: bool) -> None:
    if overflowed:  # a body without Content-Length that went on past the announced size
        detail = f"The upload was announced as {upload.size} bytes; more were sent."
        await _answer(send, 413, {"detail": detail}, offset)
        return
    await _answer(send, 204, None, offset)


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
