"""The new-job wizard in a real browser: suggestions filled in, Back keeping what was entered,
a reload keeping the step, and the server's refusal of a field shown on that field's step."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_browser import page, sign_in, watch_console  # noqa: F401 - the page fixture
from tests.e2e.test_browser_layout import ready_dataset
from tests.stack import Stack

USER = "wizard"  # its own user: the other browser and REST tests share the stack

pytestmark = [pytest.mark.stack, pytest.mark.browser]


def choose(tab: Page, label: str, option: str | re.Pattern[str]) -> None:
    """Opens the listbox labelled `label` by its button and picks `option`, as a person would."""
    tab.get_by_role("button", name=re.compile(re.escape(label))).click()
    tab.get_by_role("option", name=option, exact=isinstance(option, str)).click()
    expect(tab.get_by_role("listbox")).to_be_hidden()


def test_wizard_suggests_keeps_values_and_puts_a_server_error_on_its_step(
    embedded_stack: Stack,
    page: Page,  # noqa: F811
    artifacts_dir: Path,
) -> None:
    stack = embedded_stack
    stack.add_user(USER)
    dataset_id = ready_dataset(stack, USER)
    problems = watch_console(page)
    sign_in(page, stack, USER)
    page.click("#nav-jobs")
    page.click("#new-job")
    expect(page.locator("#wizard-step-dataset")).to_be_visible()

    # given no dataset chosen, Next says so beside the dataset and stays on the step
    page.click("#wizard-next")
    expect(page.locator("#job-dataset-error")).to_have_text("Choose a dataset.")
    expect(page.locator("#job-dataset")).to_have_attribute("aria-invalid", "true")

    # when they choose it, the next step holds the profile's target and task type
    # (each choice is a listbox widget, opened and chosen from as a person would; its hidden
    # native select, named as the API field, holds the value)
    choose(page, "Dataset", re.compile(r"^a dataset with a rather long name.* \(v1\)$"))
    expect(page.locator('select[name="dataset"]')).to_have_value(str(dataset_id))
    expect(page.locator("#job-dataset-facts")).to_contain_text("suggested target: diagnosis")
    page.click("#wizard-next")
    expect(page.locator("#wizard-step-target-heading")).to_be_focused()
    expect(page).to_have_url(re.compile(rf"#/jobs/new/{dataset_id}/target$"))
    expect(page.locator('select[name="target"]')).to_have_value("diagnosis")
    expect(page.locator('select[name="task_type"]')).to_have_value("binary")
    expect(page.locator('select[name="task_type"] option[value="binary"]')).to_contain_text(
        "(suggested)"
    )
    # (another target gets its own column's suggestion; forecasting shows its own options)
    choose(page, "Target column", "mean_radius")
    expect(page.locator('select[name="task_type"]')).to_have_value("regression")
    choose(page, "Target column", "diagnosis (suggested)")
    expect(page.locator('select[name="task_type"]')).to_have_value("binary")
    choose(page, "Task type", "forecasting (time series)")
    expect(page.locator("#job-horizon")).to_be_visible()
    choose(page, "Task type", "binary (two classes) (suggested)")
    expect(page.locator("#job-forecast-options")).to_be_hidden()

    # when they set a budget hyperband cannot run (parallel trials) and review it
    page.click("#wizard-next")
    choose(page, "Time budget", re.compile("^Quick"))
    page.fill("#job-max-trials", "3")
    page.click("#job-advanced summary")
    choose(page, "Tuner", "Hyperband")
    page.fill("#job-parallel-trials", "2")
    page.click("#wizard-next")
    expect(page.locator("#wizard-step-review-heading")).to_be_focused()
    expect(page.locator("#job-estimate")).to_contain_text("About 3 trials of up to")

    # then Back keeps every value, and so does a reload
    page.click("#wizard-back")
    expect(page.locator('select[name="budget"]')).to_have_value("quick")
    expect(page.locator("#job-max-trials")).to_have_value("3")
    page.click("#wizard-back")
    expect(page.locator('select[name="target"]')).to_have_value("diagnosis")
    page.click("#wizard-next")
    page.reload()
    expect(page).to_have_url(re.compile(rf"#/jobs/new/{dataset_id}/budget$"))
    expect(page.locator("#job-max-trials")).to_have_value("3")
    expect(page.locator('select[name="tuner"]')).to_have_value("hyperband")
    page.click("#wizard-next")

    # when they create it, the server's refusal lands beside its field, on the budget step
    page.click("#job-submit")
    expect(page.locator("#wizard-step-budget")).to_be_visible()
    expect(page.locator("#wizard-step-review")).to_be_hidden()
    error = page.locator("#job-parallel-trials-error")
    expect(error).to_contain_text("random and bayesian")
    expect(page.locator("#job-parallel-trials")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#job-parallel-trials")).to_be_focused()
    page.screenshot(path=str(artifacts_dir / "wizard-field-error.png"), full_page=True)
    with stack.client(USER) as api:
        assert api.get("/api/v1/jobs/").json()["results"] == []  # nothing was created
    # (the browser logs the refused request itself; nothing else may go wrong)
    assert [p for p in problems if "status of 400" not in p or "/api/v1/jobs/'" not in p] == []
