"""The one way a stored file (a version's artifact, a batch prediction's CSV) leaves the
registry: by its row's id, never a path.

The file's name is the one the registry gave it (`models/<uuid hex>.keras`); a stored name of
any other shape (edited in the database, say) is refused rather than opened."""

from __future__ import annotations

import base64
import re

from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404

from models_registry.models import ModelVersion

STORED_NAME = re.compile(r"models/[0-9a-f]{32}\.keras")


def artifact_response(version: ModelVersion) -> FileResponse:
    return stored_file_response(
        version.artifact,
        STORED_NAME,
        filename=f"{version.model.name}-v{version.version}.keras",
        content_type="application/octet-stream",
        sha256=version.artifact_sha256,
    )


def stored_file_response(
    stored: FieldFile, shape: re.Pattern[str], *, filename: str, content_type: str, sha256: str
) -> FileResponse:
    """A file the registry stored (an artifact, a batch prediction's CSV), opened by the name
    on its row only when the name has the shape the registry gives; 404 otherwise."""
    name = stored.name or ""
    if not shape.fullmatch(name):
        raise Http404("No file the registry stored.")
    try:
        fileobj = stored.storage.open(name, "rb")
    except (FileNotFoundError, OSError) as exc:
        raise Http404("The stored file is missing.") from exc
    response = FileResponse(
        fileobj, as_attachment=True, filename=filename, content_type=content_type
    )
    # The digest recorded when it was stored, so a client can check what it received (RFC 9530).
    digest = base64.b64encode(bytes.fromhex(sha256)).decode()
    response["Repr-Digest"] = f"sha-256=:{digest}:"
    response["X-Content-Type-Options"] = "nosniff"
    return response
