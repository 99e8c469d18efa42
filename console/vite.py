"""Finds the built frontend's files through Vite's manifest."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings

ENTRY = "src/main.tsx"


@dataclass(frozen=True)
class Assets:
    scripts: list[str]
    styles: list[str]


@lru_cache(maxsize=1)
def _manifest(mtime: float) -> dict[str, dict[str, object]]:
    path = settings.FRONTEND_DIST / "manifest.json"
    manifest: dict[str, dict[str, object]] = json.loads(path.read_text())
    return manifest


def entry_assets() -> Assets | None:
    if settings.VITE_DEV_SERVER:
        # The dev server serves the sources under the same base as the bundle; its client
        # script reloads the page when a file changes, and styles come with the modules.
        base = f"{settings.VITE_DEV_SERVER}{settings.STATIC_URL}frontend/"
        return Assets(scripts=[base + "@vite/client", base + ENTRY], styles=[])
    path = settings.FRONTEND_DIST / "manifest.json"
    if not path.exists():
        return None
    entry = _manifest(path.stat().st_mtime).get(ENTRY)
    if entry is None:
        return None
    prefix = f"{settings.STATIC_URL}frontend/"
    css = entry.get("css", [])
    return Assets(
        scripts=[prefix + str(entry["file"])],
        styles=[prefix + str(c) for c in css] if isinstance(css, list) else [],
    )
