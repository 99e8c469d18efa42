"""tus 1.0 (core, creation, termination) around the resumable uploads, so tus clients
(tuspy, tus-js-client) work unchanged: creation is `POST /api/v1/uploads/` with
`Upload-Length` and `Upload-Metadata` headers instead of a JSON body; the bytes go through
`jobs.upload_stream` (PATCH); `HEAD` tells the offset; `DELETE` terminates."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from rest_framework.exceptions import ValidationError

VERSION = "1.0.0"
EXTENSIONS = "creation,termination"
# On every tus answer but OPTIONS (which carries `Tus-Version` instead).
RESUMABLE = {"Tus-Resumable": VERSION}


def is_creation(headers: Mapping[str, str]) -> bool:
    return "Upload-Length" in headers or "Upload-Defer-Length" in headers


def creation_request(headers: Mapping[str, str]) -> tuple[str, int]:
    """(filename, size) from a tus creation request's headers; a 400 naming the header."""
    if "Upload-Defer-Length" in headers:
        raise ValidationError({"Upload-Defer-Length": ["Deferred lengths are not supported."]})
    try:
        size = int(headers["Upload-Length"])
    except ValueError:
        raise ValidationError({"Upload-Length": ["Must be a whole number of bytes."]}) from None
    if size < 0:
        raise ValidationError({"Upload-Length": ["Must be a whole number of bytes."]})
    metadata = parse_metadata(headers.get("Upload-Metadata", ""))
    filename = metadata.get("filename") or metadata.get("name") or "upload"
    return filename, size


def parse_metadata(header: str) -> dict[str, str]:
    """`key base64value,key2 base64value2` (a value may be absent) as a dict of text."""
    found: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in header.split(","))):
        key, _, encoded = pair.partition(" ")
        try:
            found[key] = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise ValidationError(
                {"Upload-Metadata": [f"The value of '{key}' is not base64 UTF-8 text."]}
            ) from None
    return found
