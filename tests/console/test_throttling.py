"""Throttles per personal token and per user: a 429 with Retry-After."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rest_framework.settings import api_settings

from console import tokens

pytestmark = pytest.mark.django_db


@pytest.fixture
def low_rates(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from console.throttling import UserOrTokenRateThrottle

    monkeypatch.setattr(UserOrTokenRateThrottle, "THROTTLE_RATES", {"user": "3/min"})
    assert api_settings.DEFAULT_THROTTLE_CLASSES


def test_each_token_has_its_own_allowance_and_gets_a_429_with_retry_after(
    low_rates: None, personas: dict[str, Any]
) -> None:
    first = tokens.token_create(user=personas["owner"], name="a").raw
    second = tokens.token_create(user=personas["owner"], name="b").raw
    a = Client(HTTP_AUTHORIZATION=f"Token {first}")
    statuses = [a.get("/api/v1/auth/me/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    throttled = a.get("/api/v1/auth/me/")
    assert throttled.json()["code"] == "throttled"
    assert int(throttled["Retry-After"]) > 0
    # Another token of the same user is not held back by the first one's script.
    assert Client(HTTP_AUTHORIZATION=f"Token {second}").get("/api/v1/auth/me/").status_code == 200


def test_a_users_session_is_throttled_per_user(low_rates: None, personas: dict[str, Any]) -> None:
    client = Client()
    client.force_login(personas["owner"])
    statuses = [client.get("/api/v1/auth/me/").status_code for _ in range(4)]
    assert statuses[-1] == 429
    other = Client()
    other.force_login(personas["teammate"])
    assert other.get("/api/v1/auth/me/").status_code == 200
