"""Who may call which deployment, held in memory so that a request costs no query.

A `Snapshot` is read whole from the database and swapped in at once; requests read whichever
snapshot is current. `Watcher` refreshes it when PostgreSQL says one of the tables changed
(LISTEN predictor, see models_registry's migration 0005 and console's 0002) and, as a safety
net, every so many seconds; on SQLite it polls.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import User
from django.db import close_old_connections, connections
from django.db.models import Q
from django.utils import timezone

from console.models import ApiToken
from console.tokens import SCOPES
from models_registry.models import Deployment, DeploymentKey, Membership

logger = logging.getLogger(__name__)
CHANNEL = "predictor"


@dataclass(frozen=True)
class DeploymentEntry:
    id: int
    owner_id: int
    name: str
    status: str
    error: str
    version_id: int
    # A second version answering this share (1..99) of the requests; none when None.
    canary_version_id: int | None = None
    canary_percent: int = 0
    # The versions' numbers, for what readiness says of a deployment not loaded here.
    version: int = 0
    canary_version: int | None = None


@dataclass(frozen=True)
class KeyEntry:
    id: int
    deployment_id: int
    expires_at: datetime | None
    rate_limit_per_minute: int | None
    # The rate limit's bucket name: part of the key's sha256, unique to the key (an id
    # could name another key in another database sharing the Redis).
    bucket: str = ""


@dataclass(frozen=True)
class PersonalEntry:
    """A personal API token (console.tokens): whose, whether it may predict, until when."""

    user_id: int
    may_predict: bool
    expires_at: datetime | None


@dataclass(frozen=True)
class Snapshot:
    active: frozenset[int] = frozenset()  # users who may sign in (door credentials name them)
    deployments: dict[tuple[int, str], DeploymentEntry] = field(default_factory=dict)
    by_id: dict[int, DeploymentEntry] = field(default_factory=dict)
    keys: dict[str, KeyEntry] = field(default_factory=dict)  # key sha256 -> key
    staff: frozenset[int] = frozenset()  # may read /metrics
    loaded: bool = False
    # Personal token sha256 -> token. Read-scope ones are held too, so that they get a 403
    # that names their scope rather than a 401 as if unknown.
    personal: dict[str, PersonalEntry] = field(default_factory=dict)
    # (user id, name) -> teammates' deployments of that name the user may predict on: those
    # of a model the user owns or whose workspace the user is a member of (any role: as the
    # API's deployment_visible_list). Two or more: the name is ambiguous for that user.
    shared: dict[tuple[int, str], tuple[DeploymentEntry, ...]] = field(default_factory=dict)


def read_snapshot() -> Snapshot:
    active = frozenset(User.objects.filter(is_active=True).values_list("id", flat=True))
    deployments: dict[tuple[int, str], DeploymentEntry] = {}
    by_id: dict[int, DeploymentEntry] = {}
    rows = Deployment.objects.filter(owner__is_active=True).values_list(
        "id",
        "owner_id",
        "name",
        "status",
        "error",
        "model_version_id",
        "canary_version_id",
        "canary_percent",
        "model_version__version",
        "canary_version__version",
    )
    for row in rows.iterator():
        pk, owner_id, name, status, error, version_id, canary_id, percent, number, canary = row
        entry = DeploymentEntry(
            pk, owner_id, name, status, error, version_id, canary_id, percent or 0, number, canary
        )
        deployments[(entry.owner_id, entry.name)] = entry
        by_id[entry.id] = entry
    shared = _shared(by_id)
    keys = {
        digest: KeyEntry(pk, deployment_id, expires, limit, digest[:32])
        for pk, deployment_id, digest, expires, limit in DeploymentKey.objects.filter(
            revoked_at__isnull=True, deployment__owner__is_active=True
        )
        .values_list("id", "deployment_id", "key_sha256", "expires_at", "rate_limit_per_minute")
        .iterator()
    }
    staff = frozenset(
        User.objects.filter(is_active=True, is_staff=True).values_list("id", flat=True)
    )
    personal = {
        digest: PersonalEntry(user_id, "predict" in SCOPES[scope], expires)
        for digest, user_id, scope, expires in ApiToken.objects.filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()),
            revoked_at__isnull=True,
            user__is_active=True,
        )
        .values_list("key_hash", "user_id", "scope", "expires_at")
        .iterator()
    }
    return Snapshot(
        active, deployments, by_id, keys, staff, loaded=True, personal=personal, shared=shared
    )


def _shared(
    by_id: dict[int, DeploymentEntry],
) -> dict[tuple[int, str], tuple[DeploymentEntry, ...]]:
    members: dict[int, set[int]] = {}
    for workspace_id, user_id in Membership.objects.filter(user__is_active=True).values_list(
        "workspace_id", "user_id"
    ):
        members.setdefault(workspace_id, set()).add(user_id)
    found: dict[tuple[int, str], list[DeploymentEntry]] = {}
    models = Deployment.objects.filter(pk__in=list(by_id)).values_list(
        "id", "model_version__model__owner_id", "model_version__model__workspace_id"
    )
    for pk, model_owner_id, workspace_id in models.iterator():
        entry = by_id[pk]
        readers = members.get(workspace_id, set()) | {model_owner_id}
        for user_id in readers - {entry.owner_id}:
            found.setdefault((user_id, entry.name), []).append(entry)
    return {k: tuple(sorted(v, key=lambda e: e.id)) for k, v in found.items()}


# How often a poke may cause a read: requests with unknown credentials poke, and a flood of
# them must not become a flood of directory reads.
POKE_GAP_S = 0.2


class Watcher:
    """Calls `on_change` once at start, on each NOTIFY (coalesced), on a `poke` (at most every
    POKE_GAP_S), and every `safety_s`."""

    def __init__(self, on_change: Callable[[], None], *, safety_s: float, poll_s: float) -> None:
        self.on_change = on_change
        self.safety_s = safety_s
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._poked = threading.Event()
        self._thread: threading.Thread | None = None

    def poke(self) -> None:
        """Ask for a read soon, whether or not the database said something changed."""
        self._poked.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="predictor-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._poked.set()

    def _changed(self) -> None:
        try:
            self.on_change()
        except Exception:
            logger.exception("Refreshing the predictor's state failed; retrying")
        finally:
            close_old_connections()

    def _run(self) -> None:
        while not self._stop.is_set():
            if connections["default"].vendor == "postgresql":
                try:
                    self._listen()
                except Exception:
                    logger.exception("Listening for changes failed; polling a while")
                    self._poll(until=time.monotonic() + 5)
            else:
                self._poll(until=None)

    def _poll(self, until: float | None) -> None:
        while not self._stop.is_set() and (until is None or time.monotonic() < until):
            self._poked.clear()
            self._changed()
            self._poked.wait(self.poll_s)
            self._stop.wait(POKE_GAP_S if self._poked.is_set() else 0)

    def _listen(self) -> None:
        import psycopg

        params = connections["default"].get_connection_params()
        for extra in ("cursor_factory", "context", "server_side_binding", "prepare_threshold"):
            params.pop(extra, None)
        with psycopg.connect(**params, autocommit=True) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            # Listening first, then reading, so that no change falls between the two.
            self._changed()
            last = time.monotonic()
            while not self._stop.is_set():
                heard = False
                # Short waits, so that a poke is seen within one.
                for _ in conn.notifies(timeout=min(0.1, self.safety_s), stop_after=1):
                    heard = True
                if heard:
                    # A change is often several statements (a deploy, then its status):
                    # gather them for a moment, then refresh once.
                    for _ in conn.notifies(timeout=0.02):
                        pass
                since = time.monotonic() - last
                poked = self._poked.is_set() and since >= POKE_GAP_S
                if heard or poked or since >= self.safety_s:
                    # Cleared before the read: a poke that comes during it asks for another.
                    self._poked.clear()
                    self._changed()
                    last = time.monotonic()


def default_watcher(on_change: Callable[[], None]) -> Watcher:
    return Watcher(
        on_change,
        safety_s=settings.PREDICTOR_SAFETY_POLL_SECONDS,
        poll_s=settings.PREDICTOR_POLL_SECONDS,
    )
