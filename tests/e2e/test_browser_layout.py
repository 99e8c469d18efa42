"""Every main page is readable on a phone (nothing scrolls sideways at 390 px) and passes axe's
accessibility rules with no serious or critical violation."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import breast_cancer_csv
from tests.e2e.accessibility import describe, serious_violations
from tests.e2e.test_browser import page, watch_console  # noqa: F401 - the page fixture
from tests.stack import Stack

USER = "phone"  # its own user: the other browser and REST tests share the stack

pytestmark = [pytest.mark.stack, pytest.mark.browser]


def ready_dataset(stack: Stack, user: str = USER) -> int:
    """The breast cancer CSV, uploaded and profiled for `user`; its id."""
    with stack.client(user) as api:
        made = api.post(
            "/api/v1/datasets/",
            files={"file": ("cancer.csv", breast_cancer_csv(), "text/csv")},
            data={"name": "a dataset with a rather long name to wrap on a small screen"},
        )
        assert made.status_code in (200, 201), made.text
        dataset_id = int(made.json()["id"])
        deadline = time.monotonic() + 120
        while api.get(f"/api/v1/datasets/{dataset_id}/").json()["status"] != "READY":
            assert time.monotonic() < deadline, "the dataset was not profiled in time"
            time.sleep(0.5)
    return dataset_id


def test_every_main_page_fits_a_phone_and_passes_axe(
    embedded_stack: Stack,
    page: Page,  # noqa: F811
    artifacts_dir: Path,
) -> None:
    stack = embedded_stack
    stack.add_user(USER)
    dataset_id = ready_dataset(stack)
    # The job page, charts included: a tiny job that trains while the other pages are measured.
    with stack.client(USER) as api:
        made = api.post(
            "/api/v1/jobs/",
            json={"dataset": dataset_id, "target": "diagnosis", "max_trials": 1, "max_epochs": 1},
        )
        assert made.status_code == 201, made.text
        job_id = int(made.json()["id"])
    problems = watch_console(page)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(stack.url + "/")
    expect(page.locator("#id_username")).to_be_visible()
    # every page's violations, gathered so that one run names them all
    inaccessible = {"sign-in": serious_violations(page)}
    page.fill("#id_username", USER)
    page.fill("#id_password", stack.passwords[USER])
    page.click("#login-submit")
    expect(page.locator("#whoami")).to_have_text(USER)

    wide: dict[str, int] = {}

    def measure(route: str) -> None:
        page.wait_for_load_state("networkidle")
        name = route.strip("#/").replace("/", "-")
        page.screenshot(path=str(artifacts_dir / f"phone-{name}.png"), full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 390:
            wide[route] = width
        if found := serious_violations(page):
            inaccessible[route] = found

    for route in (
        "#/datasets",
        f"#/datasets/{dataset_id}",
        "#/jobs",
        "#/models",
        "#/deployments",
        "#/tokens",
        "#/jobs/new",
        f"#/jobs/new/{dataset_id}/budget",
        f"#/jobs/new/{dataset_id}/review",
        f"#/jobs/{job_id}",
    ):
        page.goto(f"{stack.url}/{route}")
        expect(page.locator("#view h1").first).to_be_visible()
        if route.startswith("#/jobs/new"):
            # measured once the wizard has read the dataset and shows the step asked for
            step = route.rsplit("/", 1)[-1] if route.count("/") > 3 else "dataset"
            expect(page.locator(f"#wizard-step-{step}")).to_be_visible()
        if route == f"#/jobs/{job_id}":
            # measured once its charts hold data: a legend and axis labels are at their widest
            expect(page.locator("#job-status")).to_have_text("SUCCEEDED", timeout=240_000)
            expect(page.locator("#best-so-far")).to_have_attribute("data-points", "1")
        measure(route)

    # the version the job registered, and a deployment of it (measured as it loads)
    with stack.client(USER) as api:
        version = api.get(f"/api/v1/jobs/{job_id}/").json()["model_version"]
        deployed = api.post(f"/api/v1/model-versions/{version}/deploy/", json={"name": "phone"})
        assert deployed.status_code == 201, deployed.text
    page.goto(f"{stack.url}/#/versions/{version}")
    expect(page.locator("#roc-curve")).not_to_have_attribute("data-points", "0")
    measure(f"#/versions/{version}")
    page.goto(f"{stack.url}/#/deployments/phone")
    expect(page.locator("#deployment-status")).to_be_visible()
    measure("#/deployments/phone")

    assert wide == {}, f"pages wider than the 390 px screen: {wide}"
    assert not any(inaccessible.values()), "axe violations:\n" + describe(inaccessible)
    assert problems == []
