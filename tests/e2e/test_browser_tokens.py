"""API tokens made and revoked in the browser, and the API's Swagger UI and ReDoc pages."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_browser import page, sign_in, watch_console  # noqa: F401 - the page fixture
from tests.stack import Stack

USER = "outsider"  # its own user: the other browser and REST tests share the stack

pytestmark = [pytest.mark.stack, pytest.mark.browser]


def test_a_person_makes_uses_and_revokes_a_token(embedded_stack: Stack, page: Page) -> None:  # noqa: F811
    stack = embedded_stack
    problems = watch_console(page)
    sign_in(page, stack, USER)

    # when they create a read-only token on the API tokens page
    page.click("#nav-tokens")
    expect(page.locator("#tokens-table tbody")).not_to_contain_text("Loading")
    page.fill("#token-name", "dashboard")
    # (the scope is a listbox widget, opened and chosen from as a person would)
    page.get_by_role("button", name=re.compile("Scope")).click()
    page.get_by_role("option", name="Read-only").click()
    expect(page.get_by_role("button", name=re.compile("Scope"))).to_contain_text("Read-only")
    page.click("#token-form button[type=submit]")

    # then its secret is shown once, and it reads but cannot write
    secret = page.locator("#token-value")
    expect(secret).to_have_text(re.compile(r"^aml_"))
    token = secret.inner_text()
    row = page.get_by_test_id("token-row").filter(has_text="dashboard")
    expect(row).to_have_count(1)
    expect(row).not_to_contain_text(token)
    auth = {"Authorization": f"Token {token}"}
    assert httpx.get(f"{stack.url}/api/v1/auth/me/", headers=auth).json()["username"] == USER
    assert httpx.post(f"{stack.url}/api/v1/jobs/", headers=auth, json={}).status_code == 403

    # when they revoke it, it stops working
    row.get_by_test_id("revoke-token").click()
    expect(page.get_by_test_id("token-row").filter(has_text="dashboard")).to_have_count(0)
    assert httpx.get(f"{stack.url}/api/v1/auth/me/", headers=auth).status_code in (401, 403)
    assert problems == []


def test_swagger_ui_and_redoc_render_offline(embedded_stack: Stack, page: Page) -> None:  # noqa: F811
    stack = embedded_stack
    sign_in(page, stack, USER)
    # What the pages fetched from anywhere else (a request the page's policy blocks gets no
    # answer, so only answers count).
    outside: list[str] = []
    page.on(
        "response",
        lambda r: (
            None if r.url.startswith((stack.url, "data:", "blob:")) else outside.append(r.url)
        ),
    )
    page.goto(stack.url + "/api/v1/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("AutoML console API")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    page.goto(stack.url + "/api/v1/redoc/")
    expect(page.locator("h1").first).to_contain_text("AutoML console API")
    assert outside == []
