"""The database session settings every process runs with."""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def test_a_session_left_idle_inside_a_transaction_is_ended_by_postgresql() -> None:
    # A hung process must not hold its row locks forever (settings: PG_IDLE_..._TIMEOUT_S).
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SHOW idle_in_transaction_session_timeout")
        assert cursor.fetchone() == ("10min",)
