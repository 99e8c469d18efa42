"""Every URL needs a signed-in user, except an explicit allow-list."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from console import tokens

pytestmark = pytest.mark.django_db

ALLOWED_ANONYMOUS = {
    "login/",
    "logout/",
    "healthz",
    "favicon.ico",
    "api/v1/auth/token/",
    "admin/login/",
    "admin/logout/",
}


def _walk(patterns: list[Any], prefix: str = "") -> list[str]:
    routes = []
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            routes += _walk(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            routes.append(route)
    return routes


def _concrete(route: str) -> str:
    """A path that the route matches, with 1 for ids and x for names."""
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: "1" if m[1] == "pk" else "jobs", route)
    route = re.sub(r"<int:[^>]+>", "1", route)
    route = re.sub(r"<[^>]+>", "x", route)
    route = route.replace("^", "").replace("$", "").replace("\\Z", "").replace("/?", "/")
    return "/" + route


def test_every_url_refuses_anonymous_users() -> None:
    routes = sorted({_concrete(r) for r in _walk(get_resolver().url_patterns) if "format" not in r})
    assert "/api/v1/jobs/1/" in routes
    client = Client(enforce_csrf_checks=True)
    checked = 0
    for route in routes:
        if route.lstrip("/") in ALLOWED_ANONYMOUS:
            continue
        for method in ("get", "post"):
            answer = getattr(client, method)(route)
            location = answer.get("Location", "")
            refused = answer.status_code in (401, 403) or (
                answer.status_code == 302 and "login" in location
            )
            assert refused or (answer.status_code == 404 and route.startswith("/admin/")), (
                method,
                route,
                answer.status_code,
            )
            checked += 1
    assert checked > 30


def test_the_ui_shell_redirects_to_sign_in_and_serves_signed_in_users(
    personas: dict[str, Any],
) -> None:
    client = Client()
    assert client.get("/").status_code == 302
    client.force_login(personas["owner"])
    answer = client.get("/")
    assert answer.status_code in (200, 503)
    assert b'<div id="app">' in answer.content
    # Only its own scripts, styles and origin: an injected <script> would not run.
    policy = answer["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "'unsafe-inline'" not in policy
    assert "connect-src 'self' ws://testserver wss://testserver;" in policy
    assert "frame-ancestors 'none'" in policy
    # Inline styles only with this response's nonce, which the page hands to its widgets; a
    # second page gets another one.
    nonce = re.search(r"style-src 'self' 'nonce-([\w-]+)';", policy)
    assert nonce, policy
    assert f'<meta property="csp-nonce" nonce="{nonce[1]}">'.encode() in answer.content
    assert nonce[1] not in client.get("/")["Content-Security-Policy"]


def test_the_icon_is_served_to_anyone() -> None:
    client = Client()
    answer = client.get("/favicon.ico")
    assert answer.status_code == 301
    icon = client.get(answer["Location"])
    assert icon.status_code == 200
    assert icon["Content-Type"] == "image/svg+xml"
    assert b'<link rel="icon"' in client.get("/login/").content


def test_session_posts_without_csrf_token_are_refused(personas: dict[str, Any]) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas["owner"])
    answer = client.post("/api/v1/jobs/", {"dataset": 1, "target": "x"})
    assert answer.status_code == 403
    assert "CSRF" in answer.json()["detail"]


def test_sign_in_form_refuses_posts_without_csrf_token(personas: dict[str, Any]) -> None:
    client = Client(enforce_csrf_checks=True)
    answer = client.post("/login/", {"username": "owner", "password": "Passw0rd!-x"})
    assert answer.status_code == 403


def test_token_endpoint_gives_a_token_for_good_credentials_only(personas: dict[str, Any]) -> None:
    client = Client()
    good = client.post("/api/v1/auth/token/", {"username": "owner", "password": "Passw0rd!-x"})
    assert good.status_code == 200
    assert good.json()["token"].startswith(tokens.PREFIX)
    bad = client.post("/api/v1/auth/token/", {"username": "owner", "password": "nope"})
    assert bad.status_code == 400
    me = client.get("/api/v1/auth/me/", HTTP_AUTHORIZATION=f"Token {good.json()['token']}")
    assert me.json()["username"] == "owner"


def test_me_says_who_may_open_the_admin(personas: dict[str, Any], api_as: Any) -> None:
    assert api_as("owner").get("/api/v1/auth/me/").json()["is_staff"] is False
    personas["teammate"].is_staff = True
    personas["teammate"].save(update_fields=["is_staff"])
    assert api_as("teammate").get("/api/v1/auth/me/").json()["is_staff"] is True
