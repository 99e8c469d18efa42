"""Sign-in and the session's end, in the browser: a deep link survives sign-in, and a tab whose
session ended goes to the sign-in page (and back) instead of waiting forever."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_browser import page, watch_console  # noqa: F401 - the page fixture
from tests.stack import Stack

USER = "outsider"  # its own user: the other browser and REST tests share the stack

pytestmark = [pytest.mark.stack, pytest.mark.browser]


def _submit_sign_in(tab: Page, stack: Stack) -> None:
    tab.fill("#id_username", USER)
    tab.fill("#id_password", stack.passwords[USER])
    tab.click("#login-submit")


def test_a_deep_link_is_kept_through_sign_in(embedded_stack: Stack, page: Page) -> None:  # noqa: F811
    stack = embedded_stack
    problems = watch_console(page)
    # given someone who follows a link to the tokens page without a session
    page.goto(stack.url + "/#/tokens")
    expect(page).to_have_url(re.compile(r"/login/"))
    # when they sign in, they arrive where the link pointed, not at the default page
    _submit_sign_in(page, stack)
    expect(page).to_have_url(re.compile(r"/#/tokens$"))
    expect(page.locator("#token-form")).to_be_visible()
    assert problems == []


def test_a_tab_whose_session_ended_goes_to_sign_in_and_back(
    embedded_stack: Stack,
    page: Page,  # noqa: F811
) -> None:
    stack = embedded_stack
    # given a signed-in tab on a page that has finished loading and polls nothing (the landing
    # page may still be fetching, or polling a profiling dataset, and would reach sign-in first)
    page.goto(stack.url + "/#/tokens")
    _submit_sign_in(page, stack)
    expect(page.locator("#whoami")).to_have_text(USER)
    expect(page.locator("#tokens-table tbody")).not_to_contain_text("Loading")
    # when the session ends while the tab stays open (expired, or signed out elsewhere)
    page.context.clear_cookies()
    page.click("#nav-jobs")
    # then the next call to the API sends the tab to sign-in, remembering the page
    expect(page).to_have_url(re.compile(r"/login/\?next=%2F%23%2Fjobs$"))
    _submit_sign_in(page, stack)
    expect(page).to_have_url(re.compile(r"/#/jobs$"))
    expect(page.locator("#whoami")).to_have_text(USER)


@pytest.mark.parametrize(
    "route",
    ["#/deployments/no-such-name", "#/jobs/987654", "#/datasets/987654", "#/versions/987654"],
)
def test_an_unknown_object_gets_a_not_found_page(
    embedded_stack: Stack,
    page: Page,  # noqa: F811
    route: str,
) -> None:
    stack = embedded_stack
    page.goto(stack.url + "/")
    _submit_sign_in(page, stack)
    expect(page.locator("#whoami")).to_have_text(USER)
    page.goto(f"{stack.url}/{route}")
    expect(page.locator("#not-found")).to_be_visible()
    # nothing of the object's own page is drawn (no status badge of a thing that is not there)
    expect(page.locator("#view .status")).to_have_count(0)
