"""Writes about the running workers: which queues each serves, so the API can say why a job
waits."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from jobs.models import Worker


def worker_beat(*, name: str, queues: Iterable[str]) -> Worker:
    """Record that the worker `name` is alive and takes jobs from `queues`."""
    worker, _ = Worker.objects.update_or_create(
        name=name, defaults={"queues": sorted(set(queues)), "seen_at": timezone.now()}
    )
    return worker


def worker_gone(*, name: str) -> None:
    """Forget a worker that stopped cleanly; a killed one is forgotten when its beat goes stale."""
    Worker.objects.filter(name=name).delete()
