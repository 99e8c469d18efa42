"""The one way a version's artifact leaves the registry: by the version's id, never a path.

The file's name is the one the registry gave it (`models/<uuid hex>.keras`); a stored name of
any other shape (edited in the database, say) is refused rather than opened."""

from __future__ import annotations

import base64
import re

from django.http import FileResponse, Http404

from models_registry.models import ModelVersion

STORED_NAME = re.compile(r"models/[0-9a-f]{32}\.keras")


def artifact_response(version: ModelVersion) -> FileResponse:
    name = version.artifact.name or ""
    if not STORED_NAME.fullmatch(name):
        raise Http404("This version has no artifact the registry stored.")
    try:
        fileobj = version.artifact.storage.open(name, "rb")
    except (FileNotFoundError, OSError) as exc:
        raise Http404("The artifact file is missing.") from exc
    response = FileResponse(
        fileobj,
        as_attachment=True,
        filename=f"{version.model.name}-v{version.version}.keras",
        content_type="application/octet-stream",
    )
    # The digest recorded at registration, so a client can check what it received (RFC 9530).
    digest = base64.b64encode(bytes.fromhex(version.artifact_sha256)).decode()
    response["Repr-Digest"] = f"sha-256=:{digest}:"
    response["X-Content-Type-Options"] = "nosniff"
    return response
