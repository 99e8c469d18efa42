"""The predictor's HTTP surface, as a bare ASGI app: no framework and no query per request.

Routes (every one but health needs a user token or a deployment key):
- `POST /v1/deployments/<name>/predict`, `GET /v1/deployments/<name>` (readiness),
  `GET /v1/deployments/<name>/metrics` (the owner's counters),
  `GET /v1/deployments/<name>/openapi.json` (the predict call's contract, models_registry.signature)
- Open Inference Protocol v2: `GET /v2/health/live|ready`, `GET /v2`,
  `GET /v2/models/<name>[/versions/<v>][/ready]`, `POST /v2/models/<name>[/versions/<v>]/infer`
- `GET /healthz`, `/livez` (liveness), `/readyz` (first load done), `/metrics` (Prometheus:
  staff tokens or PREDICTOR_METRICS_TOKEN)

A deployment with a canary sends each prediction to the canary version with probability
percent/100, drawn per request; a request that carries `X-Request-Id` is routed by a hash of it
instead, so that a retry lands on the version that answered first. Every prediction says which
version answered: `X-Model-Version` (its number, as `model_version` in the body) and
`X-Model-Version-Id`.
"""

from __future__ import annotations

import hmac
import logging
import random
import time
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from django.conf import settings
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from console.errors import shape
from jobs.engine.model import RecordError
from models_registry import signature
from models_registry.models import Deployment
from models_registry.predictor import bodies, metrics
from models_registry.predictor.bodies import BodyError
from models_registry.predictor.directory import (
    DeploymentEntry,
    Snapshot,
)
from models_registry.predictor.hosting import NOT_SERVED, Hosted
from models_registry.predictor.http import (
    UNAUTHORIZED,
    Caller,
    HttpError,
    Receive,
    Send,
    bad_request,
    credential_of,
    header,
    identify,
    named,
    predicting,
    read_body,
    respond,
)
from models_registry.predictor.idle import awake
from models_registry.predictor.readiness import on_demand, readiness
from models_registry.predictor.state import predictor

logger = logging.getLogger(__name__)


async def _identified(scope: dict[str, Any]) -> tuple[Caller, Snapshot]:
    """Who is calling, and the snapshot that says so. A credential this replica does not know
    may be one made a moment ago that it has not read yet: before a 401, wait for a read that
    began after the request came (see Predictor.snapshot_after)."""
    arrived = time.monotonic()
    snapshot = predictor.snapshot
    try:
        return identify(scope, snapshot), snapshot
    except HttpError:
        if not credential_of(scope):
            raise
    snapshot = await predictor.snapshot_after(arrived)
    return identify(scope, snapshot), snapshot


async def _deployment(caller: Caller, snapshot: Snapshot, name: str) -> DeploymentEntry:
    entry = named(caller, snapshot, name)
    await _limit(caller)
    return entry


async def _limit(caller: Caller) -> None:
    key = caller.key
    if key is None or not key.rate_limit_per_minute:
        return  # no round trip for what has no limit
    wait = await predictor.limiter.take(key.bucket, key.rate_limit_per_minute)
    if wait:
        raise HttpError(
            429,
            {"detail": f"This key's rate limit is reached; retry in {wait} s."},
            [(b"retry-after", str(wait).encode())],
        )


def _hosted(entry: DeploymentEntry) -> Hosted:
    hosted = predictor.host.active.get(entry.id)
    # An undeploy applies as soon as the snapshot says so, before the loader drops the model.
    if hosted is None or entry.status in NOT_SERVED:
        servable = (Deployment.Status.READY, Deployment.Status.UNLOADED)
        status = "LOADING" if entry.status in servable else entry.status
        detail = f"Deployment '{entry.name}' is {status}, not READY."
        if entry.error:
            detail += f" {entry.error}"
        raise HttpError(503, {"detail": detail, "status": status}, [(b"retry-after", b"1")])
    return hosted


def _serving(scope: dict[str, Any], entry: DeploymentEntry) -> Hosted:
    """The version that answers this request: the canary for its share of them, else the main."""
    hosted = _hosted(entry)
    canary = predictor.host.canary.get(entry.id)
    if canary is None:
        return hosted
    sticky = header(scope, b"x-request-id")
    bucket = zlib.crc32(sticky) % 100 if sticky else random.random() * 100
    return canary.hosted if bucket < canary.percent else hosted


def _served_versions(entry: DeploymentEntry) -> list[Hosted]:
    found = [_hosted(entry)]
    canary = predictor.host.canary.get(entry.id)
    if canary is not None:
        found.append(canary.hosted)
    return found


async def _predict_rows(
    entry: DeploymentEntry, hosted: Hosted, rows: list[Any], started: float, counted: Counted
) -> tuple[list[Any], metrics.VersionMetrics, list[dict[str, Any]]]:
    vm = predictor.metrics_for(entry, hosted)
    try:
        try:
            features = hosted.served.encode(rows)
        except RecordError as exc:
            raise bad_request(exc) from None
        except (ValueError, TypeError, OverflowError) as exc:
            raise HttpError(400, {"detail": f"The instances could not be read: {exc}"}) from None
        # One comparison over the encoded categorical columns: what was read as unknown.
        warnings = hosted.served.warnings(rows, features)
        parsed = time.perf_counter()
        counted.parse_s = parsed - started
        vm.phase["parse"].observe(counted.parse_s)
        result = await predictor.inference.submit(hosted.runner, features)
    except HttpError as exc:
        vm.count(exc.status)
        raise
    counted.queue_s = result.queue_s
    counted.inference_s = result.inference_s
    vm.phase["queue"].observe(result.queue_s)
    vm.phase["inference"].observe(result.inference_s)
    return result.predictions, vm, warnings


def _finish(
    vm: metrics.VersionMetrics, hosted: Hosted, started: float, payload: Any, counted: Counted
) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    before = time.perf_counter()
    body = orjson.dumps(payload)
    done = time.perf_counter()
    counted.serialise_s = done - before
    vm.phase["serialise"].observe(counted.serialise_s)
    vm.phase["total"].observe(done - started)
    vm.count(200)
    return body, [
        (b"server-timing", f"total;dur={(done - started) * 1000:.2f}".encode()),
        (b"x-model-version", str(hosted.version).encode()),
        (b"x-model-version-id", str(hosted.version_id).encode()),
    ]


class Counted:
    """What a prediction request adds to its deployment's traffic: the version that answered
    (the main one until a version is chosen), the rows it predicted and its seconds per
    stage (the same timings the Prometheus phases observe)."""

    __slots__ = ("inference_s", "parse_s", "queue_s", "rows", "serialise_s", "version_id")

    def __init__(self, version_id: int) -> None:
        self.version_id = version_id
        self.rows = 0
        self.parse_s = self.queue_s = self.inference_s = self.serialise_s = 0.0


async def _tallied(
    caller: Caller,
    entry: DeploymentEntry,
    started: float,
    handle: Callable[[Counted], Awaitable[None]],
) -> None:
    """Run a prediction route and count how it ended, errors included (a rate limit's 429, a
    loading deployment's 503, a failure's 500); an unknown name or credential counts nowhere,
    there being no deployment to count it on, nor does a client that went away mid-answer."""
    counted = Counted(entry.version_id)
    record = predictor.traffic.record
    if caller.key is not None:
        predictor.key_use.used(caller.key.id)
    try:
        await _limit(caller)
        await handle(counted)
    except HttpError as exc:
        record(entry.id, counted.version_id, exc.status, 0, time.perf_counter() - started)
        raise
    except Exception:
        record(entry.id, counted.version_id, 500, 0, time.perf_counter() - started)
        raise
    record(entry.id, counted.version_id, 200, counted.rows, time.perf_counter() - started, counted)


# --- routes ---------------------------------------------------------------------------------


async def v1_predict(scope: dict[str, Any], receive: Receive, send: Send, name: str) -> None:
    started = time.perf_counter()
    caller, snapshot = await _identified(scope)
    caller = predicting(caller)
    entry = named(caller, snapshot, name)

    async def handle(counted: Counted) -> None:
        raw = await read_body(receive)
        await awake(predictor.host, entry)
        hosted = _serving(scope, entry)
        counted.version_id = hosted.version_id
        try:
            rows = bodies.v1_rows(bodies.parse_json(raw))
        except BodyError as exc:
            predictor.metrics_for(entry, hosted).count(400)
            raise bad_request(exc) from None
        predictions, vm, warnings = await _predict_rows(entry, hosted, rows, started, counted)
        counted.rows = len(predictions)
        payload: dict[str, Any] = {
            "predictions": predictions,
            "model": hosted.model_name,
            "model_version": hosted.version,
        }
        if warnings:
            payload["warnings"] = warnings
        body, headers = _finish(vm, hosted, started, payload, counted)
        await respond(send, 200, body, headers)

    await _tallied(caller, entry, started, handle)


async def v1_deployment(scope: dict[str, Any], send: Send, name: str) -> None:
    caller, snapshot = await _identified(scope)
    entry = await _deployment(caller, snapshot, name)
    code, body = readiness(entry)
    await respond(send, code, orjson.dumps(body))


async def v1_metrics(scope: dict[str, Any], send: Send, name: str) -> None:
    caller, snapshot = await _identified(scope)
    if caller.key is not None:
        raise HttpError(403, {"detail": "A deployment key may predict, not read metrics."})
    entry = await _deployment(caller, snapshot, name)
    await respond(send, 200, orjson.dumps({"name": name, "versions": metrics.summary(entry.id)}))


async def v1_openapi(scope: dict[str, Any], send: Send, name: str) -> None:
    """The predict call's OpenAPI document, from the main version's signature."""
    caller, snapshot = await _identified(scope)
    entry = await _deployment(caller, snapshot, name)
    await awake(predictor.host, entry)
    hosted = _hosted(entry)
    document = signature.openapi_document(
        name=entry.name,
        server_url=settings.PREDICTOR_PUBLIC_URL,
        model_name=hosted.model_name,
        version=hosted.version,
        task_type=hosted.task_type,
        classes=hosted.classes,
        schema=hosted.input_schema,
    )
    await respond(send, 200, orjson.dumps(document))


async def prometheus(scope: dict[str, Any], send: Send) -> None:
    raw = (header(scope, b"authorization") or b"").decode("latin-1")
    credential = raw.partition(" ")[2].strip()
    allowed = bool(settings.PREDICTOR_METRICS_TOKEN) and hmac.compare_digest(
        credential, settings.PREDICTOR_METRICS_TOKEN
    )
    if not allowed:
        caller = identify(scope, predictor.snapshot)
        if caller.user_id is None:  # a deployment's key
            raise UNAUTHORIZED
        if caller.user_id not in predictor.snapshot.staff:
            raise HttpError(403, {"detail": "Only staff may read the predictor's metrics."})
    await respond(
        send, 200, generate_latest(metrics.registry), content_type=CONTENT_TYPE_LATEST.encode()
    )


def _v2_serving(scope: dict[str, Any], entry: DeploymentEntry, version: str | None) -> Hosted:
    """The version a request names (the main one or the canary), else the routed one."""
    if version is None:
        return _serving(scope, entry)
    served = _served_versions(entry)
    for hosted in served:
        if version == str(hosted.version):
            return hosted
    numbers = " and ".join(str(h.version) for h in served)
    raise HttpError(404, {"detail": f"Version {version} is not served; {numbers} is."})


async def v2_model(
    scope: dict[str, Any], send: Send, name: str, version: str | None, what: str
) -> None:
    caller, snapshot = await _identified(scope)
    entry = await _deployment(caller, snapshot, name)
    if what == "ready":
        state = on_demand(entry)
        if state is not None:
            # As the v1 readiness: servable on demand, so ready, with its state beside.
            numbers = {str(entry.version), str(entry.canary_version)}
            ready = version is None or version in numbers
            body = {"name": name, "ready": ready, "state": state}
            await respond(send, 200 if ready else 503, orjson.dumps(body))
            return
        hosted_or_none = predictor.host.active.get(entry.id)
        canary = predictor.host.canary.get(entry.id)
        numbers = {str(h.version) for h in (hosted_or_none, canary and canary.hosted) if h}
        ready = hosted_or_none is not None and (version is None or version in numbers)
        await respond(send, 200 if ready else 503, orjson.dumps({"name": name, "ready": ready}))
        return
    # Without a version, the metadata is the main version's (a canary shares its model),
    # read from the loaded model: an idle one loads first.
    await awake(predictor.host, entry)
    hosted = _v2_serving(scope, entry, version) if version is not None else _hosted(entry)
    body = {
        "name": name,
        "versions": [str(h.version) for h in _served_versions(entry)],
        "platform": "keras",
        "inputs": bodies.v2_input_specs(hosted.input_schema),
        "outputs": bodies.v2_output_specs(hosted.task_type, hosted.classes),
        "parameters": {"model": hosted.model_name, "task_type": hosted.task_type},
    }
    await respond(send, 200, orjson.dumps(body))


async def v2_infer(
    scope: dict[str, Any], receive: Receive, send: Send, name: str, version: str | None
) -> None:
    started = time.perf_counter()
    caller, snapshot = await _identified(scope)
    caller = predicting(caller)
    entry = named(caller, snapshot, name)

    async def handle(counted: Counted) -> None:
        raw = await read_body(receive)
        await awake(predictor.host, entry)
        hosted = _v2_serving(scope, entry, version)
        counted.version_id = hosted.version_id
        length = header(scope, b"inference-header-content-length")
        try:
            header_length = int(length) if length is not None else None
            rows, wanted, request_id = bodies.v2_request(
                raw, header_length, bodies.binary_columns(hosted.input_schema)
            )
        except ValueError as exc:
            predictor.metrics_for(entry, hosted).count(400)
            error = exc if isinstance(exc, BodyError) else BodyError(str(exc))
            raise bad_request(error) from None
        predictions, vm, _ = await _predict_rows(entry, hosted, rows, started, counted)
        try:
            outputs = bodies.v2_outputs(predictions, wanted)
        except BodyError as exc:
            vm.count(400)
            raise bad_request(exc) from None
        counted.rows = len(predictions)
        payload: dict[str, Any] = {
            "model_name": name,
            "model_version": str(hosted.version),
            "outputs": outputs,
        }
        if request_id is not None:
            payload["id"] = request_id
        body, headers = _finish(vm, hosted, started, payload, counted)
        await respond(send, 200, body, headers)

    await _tallied(caller, entry, started, handle)


async def _route(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    method, path = scope["method"], scope["path"]
    parts = path.strip("/").split("/")
    if method == "POST":
        if len(parts) == 4 and parts[:2] == ["v1", "deployments"] and parts[3] == "predict":
            return await v1_predict(scope, receive, send, parts[2])
        if parts[:2] == ["v2", "models"] and parts[-1] == "infer":
            if len(parts) == 4:
                return await v2_infer(scope, receive, send, parts[2], None)
            if len(parts) == 6 and parts[3] == "versions":
                return await v2_infer(scope, receive, send, parts[2], parts[4])
    elif method in ("GET", "HEAD"):
        if path in ("/healthz", "/livez", "/v2/health/live"):
            return await respond(send, 200, b'{"status":"ok"}')
        if path in ("/readyz", "/v2/health/ready"):
            ok = predictor.ready
            return await respond(
                send, 200 if ok else 503, b'{"ready":true}' if ok else b'{"ready":false}'
            )
        if path == "/metrics":
            return await prometheus(scope, send)
        if path in ("/v2", "/v2/"):
            body = {
                "name": "automl-console-predictor",
                "version": "1",
                "extensions": ["binary_tensor_data"],
            }
            return await respond(send, 200, orjson.dumps(body))
        if len(parts) == 3 and parts[:2] == ["v1", "deployments"]:
            return await v1_deployment(scope, send, parts[2])
        if len(parts) == 4 and parts[:2] == ["v1", "deployments"] and parts[3] == "metrics":
            return await v1_metrics(scope, send, parts[2])
        if len(parts) == 4 and parts[:2] == ["v1", "deployments"] and parts[3] == "openapi.json":
            return await v1_openapi(scope, send, parts[2])
        if parts[:2] == ["v2", "models"] and len(parts) >= 3:
            rest = parts[3:]
            version = None
            if len(rest) >= 2 and rest[0] == "versions":
                version, rest = rest[1], rest[2:]
            if rest in ([], ["ready"]):
                return await v2_model(
                    scope, send, parts[2], version, "ready" if rest else "metadata"
                )
    raise HttpError(404, {"detail": f"No route for {method} {path}."})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            predictor.start()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            predictor.stop()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def application(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    try:
        await _route(scope, receive, send)
    except HttpError as exc:
        body = exc.body
        if scope["path"].startswith("/v2"):
            # The Open Inference Protocol's error shape.
            body = {"error": body.get("detail", ""), **body}
            body.pop("detail", None)
        else:
            body = shape(exc.status, body)
        await respond(send, exc.status, orjson.dumps(body), exc.headers)
    except Exception:
        logger.exception("The predictor failed on %s %s", scope["method"], scope["path"])
        await respond(send, 500, b'{"detail":"The predictor failed; see its log."}')
