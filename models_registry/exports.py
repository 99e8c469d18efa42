"""A version's exports: `.keras` is its artifact; ONNX is made on the first request, checked
against the artifact, and kept under the storage backend by the artifact's sha256.

The stored name comes from the recorded sha256 (hex, checked) and a fixed suffix, never from a
request. A model that cannot be exported keeps its reason beside the would-be file, so the next
request answers at once instead of tracing the model again."""

from __future__ import annotations

import hashlib
import re
import tempfile
from pathlib import Path

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.http import FileResponse

from models_registry.lifecycle import AnyUser, audit_record
from models_registry.models import AuditEvent, ModelVersion

FORMATS = ("keras", "onnx")
# Bumped when the exporter changes what it writes, so old files and reasons are not reused.
EXPORTER = "onnx1"
SHA256 = re.compile(r"[0-9a-f]{64}")


class ExportFailed(Exception):
    """The version cannot be exported in that format; the message says why."""


class Unexportable(ExportFailed):
    """The model itself cannot be exported (kept, so it is not tried again)."""


def _names(version: ModelVersion) -> tuple[str, str]:
    if not SHA256.fullmatch(version.artifact_sha256):
        raise ExportFailed("This version has no recorded sha256 to export from.")
    base = f"exports/{version.artifact_sha256}.{EXPORTER}"
    return f"{base}.onnx", f"{base}.failed.txt"


def _storage(version: ModelVersion) -> Storage:
    return version.artifact.storage


def _build(version: ModelVersion, out: Path) -> float:
    from jobs.engine import model as engine_model
    from models_registry import onnx_export

    with version.artifact.open("rb") as fileobj:
        data = fileobj.read()
    if hashlib.sha256(data).hexdigest() != version.artifact_sha256:
        raise ExportFailed("The model file does not match its recorded sha256; refusing it.")
    path = out.parent / "model.keras"
    path.write_bytes(data)
    model = engine_model.load(str(path))
    try:
        return onnx_export.export_onnx(model, out, labels=engine_model.class_labels(model))
    except onnx_export.ExportFailed as exc:
        raise Unexportable(str(exc)) from exc


def onnx_file(*, actor: AnyUser, version: ModelVersion) -> str:
    """The stored name of the version's ONNX export, made now if it is not there yet."""
    name, failed = _names(version)
    storage = _storage(version)
    if storage.exists(name):
        return name
    if storage.exists(failed):
        with storage.open(failed, "rb") as reason:
            raise ExportFailed(reason.read().decode("utf-8", "replace"))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "model.onnx"
        try:
            difference = _build(version, out)
        except Unexportable as exc:
            storage.save(failed, ContentFile(str(exc).encode()))
            raise
        with out.open("rb") as fileobj:
            saved = storage.save(name, File(fileobj))
    if saved != name:  # another request made it meanwhile: keep one
        storage.delete(saved)
    audit_record(
        actor=actor,
        action=AuditEvent.Action.EXPORTED,
        subject=f"{version.model.name} v{version.version}",
        model=version.model,
        version=version,
        to_value=f"onnx (largest output difference {difference:.2g})",
    )
    return name


def onnx_response(*, actor: AnyUser, version: ModelVersion) -> FileResponse:
    name = onnx_file(actor=actor, version=version)
    response = FileResponse(
        _storage(version).open(name, "rb"),
        as_attachment=True,
        filename=f"{version.model.name}-v{version.version}.onnx",
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
