"""Every door that takes a password is limited per account and per client address, and a
forged X-Forwarded-For neither resets nor dodges the count."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db

DOORS = ["/login/", "/admin/login/", "/api/v1/auth/token/"]


@pytest.fixture(autouse=True)
def _fresh_counts() -> Iterator[None]:
    keys = ["signin:addr:127.0.0.1", "signin:addr:10.9.8.7", "signin:user:victim"]
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


@pytest.fixture
def victim() -> User:
    user = User.objects.create_user("victim", password="right-password")
    user.is_staff = True
    user.save()
    return user


def _try(client: Client, door: str, password: str, forwarded: str = "") -> int:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    body = {"username": "victim", "password": password}
    if door.startswith("/api/"):
        return client.post(door, body, content_type="application/json", headers=headers).status_code
    return client.post(door, body, headers=headers).status_code


@pytest.mark.parametrize("door", DOORS)
@override_settings(SIGNIN_MAX_FAILURES_PER_ACCOUNT=5, SIGNIN_MAX_FAILURES_PER_ADDRESS=100)
def test_an_account_is_locked_after_repeated_failures_whatever_the_header(
    victim: User, door: str
) -> None:
    client = Client(enforce_csrf_checks=False)
    # each guess claims to come from somewhere else: the count is per account regardless
    statuses = [_try(client, door, f"guess-{i}", forwarded=f"203.0.113.{i}") for i in range(5)]
    assert 429 not in statuses
    refused = client.post(door, {"username": "victim", "password": "right-password"})
    assert refused.status_code == 429
    assert refused["Retry-After"].isdigit()


@override_settings(SIGNIN_MAX_FAILURES_PER_ACCOUNT=100, SIGNIN_MAX_FAILURES_PER_ADDRESS=4)
def test_an_address_is_limited_across_accounts_and_cannot_reset_it_by_header(
    victim: User,
) -> None:
    client = Client()
    for i in range(4):
        response = client.post(
            "/api/v1/auth/token/",
            {"username": f"nobody{i}", "password": "x"},
            content_type="application/json",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{i}",
        )
        assert response.status_code == 400
    response = client.post(
        "/api/v1/auth/token/",
        {"username": "victim", "password": "right-password"},
        content_type="application/json",
        HTTP_X_FORWARDED_FOR="198.51.100.200",
    )
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.json()["detail"]


@override_settings(
    TRUSTED_PROXY_COUNT=1, SIGNIN_MAX_FAILURES_PER_ACCOUNT=100, SIGNIN_MAX_FAILURES_PER_ADDRESS=3
)
def test_behind_a_trusted_proxy_the_address_it_appended_is_counted(victim: User) -> None:
    client = Client()
    # the client's own forged entry comes first; our proxy appended the real one last
    for i in range(3):
        _try(client, "/api/v1/auth/token/", "wrong", forwarded=f"1.2.3.{i}, 10.9.8.7")
    assert _try(client, "/api/v1/auth/token/", "right-password", "5.5.5.5, 10.9.8.7") == 429
    # another real client behind the same proxy is not affected
    cache.delete("signin:user:victim")
    assert _try(client, "/api/v1/auth/token/", "right-password", "10.9.8.6") == 200


def test_a_correct_sign_in_below_the_limit_works(victim: User) -> None:
    client = Client()
    assert _try(client, "/api/v1/auth/token/", "wrong") == 400
    assert _try(client, "/api/v1/auth/token/", "right-password") == 200
