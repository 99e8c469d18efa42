"""The predictor's HTTP plumbing and who is calling: no model, no global state.

models_registry.predictor.app routes requests with these; they are apart so that each module
stays small enough to read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from console.tokens import DOOR_PREFIX, door_user_id
from jobs.engine.model import RecordError
from models_registry.predictor.bodies import BodyError
from models_registry.predictor.directory import DeploymentEntry, KeyEntry, Snapshot
from models_registry.services import key_sha256

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]
MAX_BODY = 32 * 1024 * 1024
JSON = b"application/json"


class HttpError(Exception):
    def __init__(
        self, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None
    ):
        super().__init__(body.get("detail", ""))
        self.status = status
        self.body = body
        self.headers = headers or []


@dataclass(frozen=True)
class Caller:
    user_id: int | None
    key: KeyEntry | None = None
    may_predict: bool = True  # false for a personal token of read scope


async def read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise HttpError(400, {"detail": "The client went away."})
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise HttpError(413, {"detail": f"The body is over {MAX_BODY // 2**20} MiB."})
        chunks.append(chunk)
        if not message.get("more_body"):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def respond(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
    content_type: bytes = JSON,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def header(scope: dict[str, Any], name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


UNAUTHORIZED = HttpError(
    401,
    {"detail": "Authentication credentials were not provided or are not valid."},
    [(b"www-authenticate", b"Token")],
)


def credential_of(scope: dict[str, Any]) -> str:
    """The token or key a request carries (`Authorization: Token|Bearer`, or `X-API-Key`)."""
    raw = header(scope, b"authorization")
    if raw:
        scheme, _, value = raw.decode("latin-1").partition(" ")
        if scheme.lower() in ("token", "bearer") and value.strip():
            return value.strip()
    return (header(scope, b"x-api-key") or b"").decode("latin-1").strip()


def identify(scope: dict[str, Any], snapshot: Snapshot) -> Caller:
    credential = credential_of(scope)
    if not credential:
        raise UNAUTHORIZED
    if credential.startswith(DOOR_PREFIX):  # a browser session, from the web's door
        user_id = door_user_id(credential)
        if user_id is None or user_id not in snapshot.active:
            raise UNAUTHORIZED
        return Caller(user_id)
    digest = key_sha256(credential)  # how personal tokens are stored too (console.tokens)
    personal = snapshot.personal.get(digest)
    if personal is not None:
        if expired(personal.expires_at):
            raise UNAUTHORIZED
        return Caller(personal.user_id, may_predict=personal.may_predict)
    key = snapshot.keys.get(digest)
    if key is None or expired(key.expires_at):
        raise UNAUTHORIZED
    return Caller(None, key)


def expired(expires_at: datetime | None) -> bool:
    return expires_at is not None and expires_at <= datetime.now(UTC)


def predicting(caller: Caller) -> Caller:
    if not caller.may_predict:
        raise HttpError(403, {"detail": "This token's scope (read) does not allow predictions."})
    return caller


def named(caller: Caller, snapshot: Snapshot, name: str) -> DeploymentEntry:
    if caller.key is not None:
        entry = snapshot.by_id.get(caller.key.deployment_id)
        if entry is None or entry.name != name:
            raise HttpError(404, {"detail": f"No deployment named '{name}' for this key."})
        return entry
    user_id = caller.user_id or 0
    entry = snapshot.deployments.get((user_id, name))
    if entry is not None:
        return entry  # the caller's own comes first
    teammates = snapshot.shared.get((user_id, name), ())
    if len(teammates) == 1:
        return teammates[0]  # a teammate's, of a model shared with the caller
    if teammates:
        raise HttpError(
            409,
            {
                "detail": f"Several teammates deployed a '{name}'; predict with the one's "
                "deployment key, or deploy the version under a name of your own."
            },
        )
    raise HttpError(404, {"detail": f"No deployment named '{name}'."})


def bad_request(exc: BodyError | RecordError) -> HttpError:
    # The API's one error shape, with the predictor's own context (field, instance) beside it.
    detail = str(exc)
    body: dict[str, Any] = {"code": getattr(exc, "code", "invalid"), "detail": detail}
    body["fields"] = {exc.field: [detail]} if exc.field is not None else {}
    if exc.field is not None:
        body["field"] = exc.field
    if exc.instance is not None:
        body["instance"] = exc.instance
    return HttpError(400, body)
