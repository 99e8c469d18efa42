"""What a deployment's readiness says on this replica (`GET /v1/deployments/<name>` and the
Open Inference Protocol's model ready), a deployment that loads on demand included.

An idle-unloaded deployment (models_registry.predictor.idle) is servable: the next request
loads it. Its readiness is therefore a 200 with `ready: true`, `loaded: false` and status
UNLOADED (LOADING while a request loads it), so that a readiness probe aimed at a deployment
does not flap as its traffic comes and goes; a deployment that is not servable here yet (a
first load, a FAILED one) answers 503.
"""

from __future__ import annotations

from typing import Any

from models_registry.models import Deployment
from models_registry.predictor.directory import DeploymentEntry
from models_registry.predictor.state import predictor


def on_demand(entry: DeploymentEntry) -> str | None:
    """UNLOADED (or LOADING while a request loads it) for a deployment this replica unloaded
    for idleness, or never loaded because none held it: servable, if a second late."""
    host = predictor.host
    if entry.id in host.active or entry.id not in host.idle:
        return None
    return "LOADING" if entry.id in host.waking else Deployment.Status.UNLOADED


def readiness(entry: DeploymentEntry) -> tuple[int, dict[str, Any]]:
    state = on_demand(entry)
    if state is not None:
        # Servable: the next request loads it. A 200, so that readiness probes do not flap
        # as traffic comes and goes; `loaded` and the status say it is not in memory now.
        return 200, {
            "name": entry.name,
            "status": state,
            "ready": True,
            "loaded": False,
            "model_version": entry.version,
        }
    hosted = predictor.host.active.get(entry.id)
    ready = hosted is not None
    if ready:
        status = "READY"  # this replica answers, whatever the database says yet
    elif entry.status in (Deployment.Status.READY, Deployment.Status.UNLOADED):
        status = "LOADING"  # another replica holds it; this one is still loading it
    else:
        status = entry.status
    body: dict[str, Any] = {"name": entry.name, "status": status, "ready": ready, "loaded": ready}
    if hosted is not None:
        body.update(model=hosted.model_name, model_version=hosted.version)
        if hosted.version_id != entry.version_id:
            body["loading_version_id"] = entry.version_id
        canary = predictor.host.canary.get(entry.id)
        if canary is not None:
            body.update(canary_version=canary.hosted.version, canary_percent=canary.percent)
        elif entry.canary_version_id is not None:
            body["loading_canary_version_id"] = entry.canary_version_id
    if entry.error:
        body["error"] = entry.error
    return (200 if ready else 503), body
