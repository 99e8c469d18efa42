"""The registry in a real browser: a version's page (metrics, signature, card, aliases, history),
deploying it twice (the console asks instead of making a second endpoint), and comparing two
versions. Only the public API is behind these pages."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import breast_cancer_csv
from tests.e2e import flow
from tests.e2e.test_browser import DEPLOY_TIMEOUT_MS, _shot, page, sign_in, watch_console  # noqa: F401
from tests.stack import Stack

pytestmark = [pytest.mark.stack, pytest.mark.browser]
USER = "teammate"  # the outsider stays empty-handed for the walking skeleton on the same stack


def _two_versions(stack: Stack) -> tuple[int, int]:
    """Two finished jobs on one dataset: two versions of one registered model."""
    client = stack.client(USER)
    content = breast_cancer_csv().replace(b"north", b"northwest")  # a file of its own
    dataset = client.post(
        "/api/v1/datasets/", files={"file": ("registry.csv", content, "text/csv")}
    )
    assert dataset.status_code in (200, 201), dataset.text
    dataset_id = flow.wait_dataset(client, dataset.json()["id"])["id"]
    jobs = [
        flow.create_job(client, dataset_id, max_trials=1, max_epochs=2, seed=seed)
        for seed in (1, 2)
    ]
    # Polled rather than watched: Playwright's sync API already runs an event loop here.
    versions = []
    deadline = time.monotonic() + 600
    for job in jobs:
        while (final := client.get(f"/api/v1/jobs/{job['id']}/").json())["status"] in (
            "QUEUED",
            "RUNNING",
        ):
            assert time.monotonic() < deadline, f"job {job['id']} still {final['status']}"
            time.sleep(1)
        assert final["status"] == "SUCCEEDED", final["error"]
        versions.append(final["model_version"])
    return versions[0], versions[1]


def test_version_page_deploy_question_and_compare(
    embedded_stack: Stack,
    page: Page,  # noqa: F811
    artifacts_dir: Path,
) -> None:
    stack = embedded_stack
    first, second = _two_versions(stack)
    problems = watch_console(page)

    # given the teammate signed in
    sign_in(page, stack, USER)

    # when they open a version from the models list
    page.goto(f"{stack.url}/#/models")
    page.locator(f'a[href="#/versions/{first}"]').click()

    # then its page shows the record: metrics, the signature, the card and an empty history
    expect(page.locator("#version-title")).to_have_text(re.compile(r"^registry-diagnosis v\d$"))
    accuracy = page.locator("#version-metrics tr").filter(
        has=page.locator("th", has_text=re.compile("^accuracy$"))
    )
    expect(accuracy.locator("td")).to_have_text(re.compile(r"^(0(\.\d+)?|1)$"))
    expect(page.locator("#per-class")).to_be_visible()
    inputs = page.locator("#version-inputs tbody tr")
    expect(inputs).to_have_count(9)
    clinic = inputs.filter(has=page.locator("td", has_text=re.compile("^clinic$")))
    expect(clinic.locator("td").nth(2)).to_have_text("east, northwest, south")
    expect(page.locator("#version-output")).to_contain_text("benign, malignant")
    expect(page.locator("#model-card h3", has_text="Task")).to_be_visible()
    expect(page.locator("#card-state")).to_have_text("generated")
    expect(page.locator("#version-audit")).to_contain_text("Nothing has changed yet.")
    expect(page.locator("#version-download")).to_have_attribute(
        "href", f"/api/v1/model-versions/{first}/artifact/"
    )
    expect(page.locator("#version-onnx")).to_have_attribute(
        "href", f"/api/v1/model-versions/{first}/export/?format=onnx"
    )
    _shot(page, artifacts_dir, "registry-01-version.png")

    # when they point "production" at it
    page.fill("#alias-name", "production")
    page.click("#alias-submit")

    # then the alias shows, and the history says who moved it
    expect(page.locator('#version-aliases [data-alias="production"]')).to_be_visible()
    row = page.get_by_test_id("audit-row").first
    expect(row).to_contain_text("alias moved")
    expect(row).to_contain_text(USER)

    # when they edit the card
    page.click("#card-edit summary")
    page.fill("#card-editor", "# Reviewed\n\n- Checked by the clinic.\n")
    page.click("#card-save")
    expect(page.locator("#card-state")).to_have_text("edited")
    expect(page.locator("#model-card li")).to_have_text("Checked by the clinic.")

    # when they describe the model and tag it
    page.click("#model-about-edit summary")
    page.fill("#model-description-input", "Screens biopsies.")
    page.fill("#model-tags-input", "clinic, tabular")
    page.click("#model-about-save")
    expect(page.locator("#model-description")).to_have_text("Screens biopsies.")
    expect(page.locator("#model-tags")).to_contain_text("tabular")

    # when they deploy it, come back and deploy it again
    page.click("#version-deploy")
    expect(page).to_have_url(re.compile(r"#/deployments/registry-diagnosis-v\d$"))
    expect(page.locator("#deployment-version")).to_have_text(re.compile(r"registry-diagnosis v\d"))
    existing = page.url.rsplit("/", 1)[1]
    page.go_back()
    page.click("#version-deploy")

    # then the console asks, naming the existing deployment, instead of making a second one
    expect(page.locator("#deploy-question")).to_be_visible()
    expect(page.locator("#deploy-existing")).to_have_text(existing)
    _shot(page, artifacts_dir, "registry-02-deploy-question.png")
    page.fill("#deploy-new-name", "registry-canary")
    page.click("#deploy-again")
    expect(page).to_have_url(re.compile(r"#/deployments/registry-canary$"))
    expect(page.locator("#deployment-status")).to_have_text("READY", timeout=DEPLOY_TIMEOUT_MS)

    # when they undeploy the canary
    page.click("#undeploy-button")
    expect(page.locator("#deployment-status")).to_have_text("UNDEPLOYED")

    # when they compare the version with the other one
    page.goto(f"{stack.url}/#/versions/{first}")
    # (the other version is chosen from a listbox widget, opened and picked as a person would)
    page.get_by_role("button", name=re.compile("Compare with")).click()
    page.get_by_role("option").and_(page.locator(f'[data-value="{second}"]')).click()
    page.click("#compare-button")

    # then the metrics, hyperparameters and signatures stand side by side
    expect(page).to_have_url(re.compile(rf"#/compare/{first}/{second}$"))
    expect(page.locator("#compare-title")).to_contain_text(" vs ")
    metric = page.locator('#compare-metrics tr[data-name="accuracy"] td')
    expect(metric).to_have_count(3)
    expect(metric.nth(0)).to_have_text(re.compile(r"^(0(\.\d+)?|1)$"))
    expect(metric.nth(1)).to_have_text(re.compile(r"^(0(\.\d+)?|1)$"))
    expect(page.locator("#compare-hyperparameters tbody tr").first).to_be_visible()
    expect(page.locator("#compare-signature")).to_have_text("Same inputs, target and classes.")
    _shot(page, artifacts_dir, "registry-03-compare.png")
    # the browser logs the 409 that made the console ask; nothing else went wrong
    expected = (
        f"status of 409 (Conflict) at {{'url': '{stack.url}/api/v1/model-versions/{first}/deploy/'"
    )
    assert [p for p in problems if expected not in p] == [], problems
