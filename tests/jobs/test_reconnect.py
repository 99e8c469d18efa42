"""A running attempt rides out a database restart: its reporter's writes wait for a new
connection instead of failing the trial (jobs/services/reconnect.py). The restart is a real
one as far as the attempt can tell: the server ends its backend (pg_terminate_backend) and,
for a moment, refuses new connections to its database."""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import pytest
from django.db import InterfaceError, OperationalError, connection, transaction

from jobs import services
from jobs.models import Trial
from jobs.services import reporter
from jobs.services.reconnect import reconnecting
from tests.factories import make_dataset
from tests.stack import ADMIN_PG_URL

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL restart"),
]


def _restart_for(seconds: float) -> None:
    """End this process's backend, and refuse connections to the database for `seconds`."""
    name = connection.settings_dict["NAME"]
    pid = connection.connection.info.backend_pid
    with psycopg.connect(ADMIN_PG_URL, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])

    def reopen() -> None:
        time.sleep(seconds)
        with psycopg.connect(ADMIN_PG_URL, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')

    threading.Thread(target=reopen).start()


def test_a_running_attempt_carries_on_after_the_database_restarts(
    personas: dict[str, Any], media_root: Any
) -> None:
    dataset = make_dataset(personas["owner"])
    job = services.job_create(owner=personas["owner"], dataset=dataset, target="diagnosis")
    claimed = services.job_claim(job_id=job.pk, worker="w1")
    assert claimed is not None
    attempt = reporter.JobReporter(claimed)
    attempt.trial_started(1, {"units": 8})

    # when the database restarts under it, down for a second
    _restart_for(1.0)
    started = time.monotonic()
    attempt.epoch_end(1, 0, {"loss": 1.0})

    # then the write waited for it and went through, and the attempt still holds its job
    assert time.monotonic() - started >= 0.9
    assert not attempt.lost
    assert attempt.cancelled() is False
    assert Trial.objects.get(job=job, number=1).epochs == [{"epoch": 0, "loss": 1.0}]


def test_only_a_lost_connection_is_retried() -> None:
    calls: list[int] = []

    @reconnecting
    def refused() -> None:
        calls.append(1)
        raise OperationalError("deadlock detected")

    # an error on a live connection is the caller's, at once
    connection.ensure_connection()
    with pytest.raises(OperationalError):
        refused()
    assert len(calls) == 1

    @reconnecting
    def count() -> int:
        calls.append(1)
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return int(cursor.fetchone()[0])

    # and a lost one inside a transaction the caller opened is not retried either: its
    # earlier writes are gone with it
    def lost_in_a_transaction() -> None:
        with transaction.atomic():
            count()
            _restart_for(0.2)
            count()

    with pytest.raises((OperationalError, InterfaceError)):
        lost_in_a_transaction()
    assert len(calls) == 3
    connection.close()
    time.sleep(0.3)
    assert count() == 1
