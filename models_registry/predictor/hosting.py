"""Loaded versions, and which one answers each deployment.

`Host.reconcile` runs on the watcher thread after every refresh: it loads what a deployment
should serve (the artifact's recorded sha256 first, then Keras' safe mode), warms it with a
few batches, and only then points the deployment at it. A deployment that moves to another
version keeps answering with the old one until the new one is warm; requests already queued
for the old one still run on it (its queue holds it), then it is dropped.

A deployment with a canary keeps its canary version loaded and warm too (`Host.canary`); the
app sends each request to one or the other (models_registry.predictor.app). A canary that
cannot be loaded is left out: the main version answers everything.

A deployment no request reached for PREDICTOR_IDLE_UNLOAD_SECONDS is unloaded from this
replica (`Host.unload_idle`, models_registry.predictor.idle) and left out of reconciling until
a request wakes it (`Host.wake`). The replica marks it UNLOADED; a replica that still holds
it marks it READY again on its next refresh, so the status says UNLOADED once no replica
holds it. A replica that starts while a deployment is UNLOADED does not load it either: it
loads on demand, like the idle ones.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Importing the engine's model module registers every task's layers with Keras, so that a
# predictor that never trained such a model loads it (safe mode refuses a class it does not know).
from jobs.engine import model as engine_model
from models_registry import services
from models_registry.models import Deployment, ModelVersion
from models_registry.predictor import heap
from models_registry.predictor.batching import Runner
from models_registry.predictor.directory import DeploymentEntry, Snapshot

logger = logging.getLogger(__name__)
WARM_BATCHES = (1, 8, 64)


# Statuses whose deployment no replica serves: an UNDEPLOYED one is kept for the record only;
# a FAILED one waits for a redeploy.
NOT_SERVED = (Deployment.Status.FAILED, Deployment.Status.UNDEPLOYED)


@dataclass
class Hosted:
    version_id: int
    version: int
    model_name: str
    task_type: str
    served: engine_model.Served
    runner: Runner
    input_schema: list[dict[str, Any]]
    classes: list[str] | None


def load_version(version: ModelVersion) -> engine_model.Served:
    """The version's model, refused unless its file matches the recorded sha256."""
    with version.artifact.open("rb") as fileobj:
        data = fileobj.read()
    if hashlib.sha256(data).hexdigest() != version.artifact_sha256:
        raise ValueError("The model file does not match its recorded sha256; refusing it.")
    # Keras loads from a path; the copy is the bytes that were just checked.
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.keras"
        path.write_bytes(data)
        return engine_model.Served(engine_model.load(str(path)))


def warm(served: engine_model.Served) -> None:
    """Compile the model's graph, then run a few batches of each size class before traffic,
    so that the first requests do not pay for tracing or torch's first-call allocations."""
    if not served.compile():
        logger.info("This model keeps Keras' direct call: its traced graph did not match.")
    for rows in WARM_BATCHES:
        served.decode(served.infer(served.example_inputs(rows)))


@dataclass(frozen=True)
class Canary:
    hosted: Hosted
    percent: int  # of the requests, 1..99


class Host:
    def __init__(self) -> None:
        self.active: dict[int, Hosted] = {}  # deployment id -> the version answering it
        self.canary: dict[int, Canary] = {}  # deployment id -> its canary, once warm
        self._versions: dict[int, Hosted] = {}
        self._broken: dict[int, str] = {}  # version id -> why it could not be loaded
        self.last_used: dict[int, float] = {}  # deployment id -> monotonic time of its last use
        self.idle: set[int] = set()  # deployments unloaded for want of requests
        self.waking: set[int] = set()  # idle ones a request is loading now
        # Reconciling (the watcher thread), waking (a request's thread) and unloading (the
        # sweeper) change the same maps; the inference thread only reads them.
        self.lock = threading.RLock()
        # A model was let go since the heap was last frozen (models_registry.predictor.heap).
        self.dropped = False

    def settle_heap(self) -> None:
        """Freeze the heap after loads and drops, so that no full collection walks the models
        while requests wait (models_registry.predictor.heap)."""
        with self.lock:
            heap.settle(dropped=self.dropped)
            self.dropped = False

    def _host(self, version_id: int) -> Hosted:
        hosted = self._versions.get(version_id)
        if hosted is not None:
            return hosted
        if version_id in self._broken:
            raise ValueError(self._broken[version_id])
        version = ModelVersion.objects.select_related("model").get(pk=version_id)
        try:
            served = load_version(version)
            warm(served)
        except Exception as exc:
            self._broken[version_id] = str(exc)
            raise
        hosted = Hosted(
            version_id=version.pk,
            version=version.version,
            model_name=version.model.name,
            task_type=version.task_type,
            served=served,
            runner=Runner(served.infer, served.decode),
            input_schema=list(version.input_schema),
            classes=version.classes,
        )
        self._versions[version_id] = hosted
        return hosted

    def reconcile(self, snapshot: Snapshot) -> None:
        wanted = {e.id: e for e in snapshot.by_id.values() if e.status not in NOT_SERVED}
        with self.lock:
            self.idle &= set(wanted)
            # UNLOADED: no replica holds it; this one loads it on demand too.
            self.idle |= {
                e.id
                for e in wanted.values()
                if e.status == Deployment.Status.UNLOADED and e.id not in self.active
            }
            # Dropped before anything loads, so that a slow load does not keep them serving.
            for dropped in set(self.active) - set(wanted):
                del self.active[dropped]
            for entry in wanted.values():
                if entry.id not in self.idle:
                    self._serve(entry)
            self._drop_unused()
            self.settle_heap()

    def _serve(self, entry: DeploymentEntry) -> None:
        current = self.active.get(entry.id)
        if current is None or current.version_id != entry.version_id:
            waiting = (Deployment.Status.PENDING, Deployment.Status.UNLOADED)
            if current is None and entry.status in waiting:
                services.deployment_mark_loading(deployment_id=entry.id)
            try:
                hosted = self._host(entry.version_id)
            except Exception as exc:
                logger.exception("Could not load deployment %s", entry.name)
                if current is None:
                    services.deployment_mark_failed(deployment_id=entry.id, error=str(exc))
                # else: the old version keeps answering; the new one is not retried.
                return
            self.active[entry.id] = hosted  # the switch: later requests go to it
            self.last_used.setdefault(entry.id, time.monotonic())
        if entry.status != Deployment.Status.READY:
            services.deployment_mark_ready(deployment_id=entry.id)
        self._reconcile_canary(entry)

    def touch(self, deployment_id: int) -> None:
        self.last_used[deployment_id] = time.monotonic()

    def wake(self, entry: DeploymentEntry) -> None:
        """Load an idle deployment again (and its canary); the caller waits for it."""
        self.waking.add(entry.id)  # read without the lock, by readiness (app)
        try:
            with self.lock:
                if entry.id in self.idle:
                    self.idle.discard(entry.id)
                    self._serve(entry)
                    self.settle_heap()
        finally:
            self.waking.discard(entry.id)

    def unload_idle(self, idle_s: float, now: float | None = None) -> list[int]:
        """Unload the deployments no request reached for `idle_s` seconds; their ids.
        Requests already queued on a version still run on it (its queue holds it)."""
        now = time.monotonic() if now is None else now
        with self.lock:
            unloaded = [d for d in self.active if now - self.last_used.get(d, now) >= idle_s]
            for deployment_id in unloaded:
                del self.active[deployment_id]
                self.last_used.pop(deployment_id, None)
                self.idle.add(deployment_id)
            self._drop_unused()
            if unloaded:
                self.settle_heap()
        for deployment_id in unloaded:
            services.deployment_mark_unloaded(deployment_id=deployment_id)
        return unloaded

    def _drop_unused(self) -> None:
        for dropped in set(self.canary) - set(self.active):
            del self.canary[dropped]
        in_use = {h.version_id for h in self.active.values()}
        in_use |= {c.hosted.version_id for c in self.canary.values()}
        for stale in set(self._versions) - in_use:
            del self._versions[stale]
            self.dropped = True

    def _reconcile_canary(self, entry: DeploymentEntry) -> None:
        if entry.canary_version_id is None or entry.id not in self.active:
            self.canary.pop(entry.id, None)
            return
        current = self.canary.get(entry.id)
        if current is not None and current.hosted.version_id == entry.canary_version_id:
            if current.percent != entry.canary_percent:
                self.canary[entry.id] = Canary(current.hosted, entry.canary_percent)
            return
        try:
            hosted = self._host(entry.canary_version_id)
        except Exception:
            logger.exception("Could not load the canary of deployment %s", entry.name)
            self.canary.pop(entry.id, None)
            return
        self.canary[entry.id] = Canary(hosted, entry.canary_percent)

    def forget(self) -> None:
        self.idle.clear()
        self.waking.clear()
        self.last_used.clear()
        self.active.clear()
        self.canary.clear()
        self._versions.clear()
        self._broken.clear()
