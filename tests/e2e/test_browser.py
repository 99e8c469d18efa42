"""The walking skeleton's path clicked through in a real browser, as a person would.

Sign in, upload a CSV, train, watch the trials arrive live, deploy the best model and ask it
for a prediction, saving a full-page screenshot of every page into test-artifacts/.
Drives Debian's chromium through Playwright's sync API; no browser is ever downloaded.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import pytest
from playwright.sync_api import ConsoleMessage, Error, Page, Request, expect, sync_playwright

from tests.conftest import breast_cancer_csv
from tests.stack import Stack

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
USER = "teammate"  # the REST e2e test uses "owner" in the same session-scoped stack
TRAINING_TIMEOUT_MS = 240_000
DEPLOY_TIMEOUT_MS = 120_000
LABELS = ("benign", "malignant")

# No skip when chromium is missing: `make test` installs it, and a silent skip would hide that.
pytestmark = [pytest.mark.stack, pytest.mark.browser]


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.set_default_timeout(30_000)
            expect.set_options(timeout=15_000)
            yield context.new_page()
        finally:
            expect.set_options(timeout=None)  # back to Playwright's default for other tests
            browser.close()


def sign_in(page: Page, stack: Stack, user: str, password: str | None = None) -> None:
    """Opens the console and signs in through Django's form, as a person does; returns once
    the app shows who is signed in. (`test_csv_to_prediction_in_the_browser` walks the
    form itself, step by step.)"""
    page.goto(stack.url + "/")
    page.fill("#id_username", user)
    page.fill("#id_password", password or stack.passwords[user])
    page.click("#login-submit")
    expect(page.locator("#whoami")).to_have_text(user)


def watch_console(page: Page) -> list[str]:
    """Collects the page's console errors and uncaught exceptions (a missing icon included)."""
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        problems.append(f"console: {message.text} at {message.location}")

    def on_page_error(error: Error) -> None:
        problems.append(f"pageerror: {error.message}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    return problems


def assert_charts_fit_a_phone(page: Page) -> None:
    """At 390 px every chart shrinks to the screen and nothing scrolls sideways."""
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_function(
        "() => [...document.querySelectorAll('.chart canvas')]"
        ".every(c => c.getBoundingClientRect().right <= 390)"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def assert_tus_upload(requests: list[Request], size: int) -> str:
    """The requests of one upload spoke tus 1.0: a creation POST announcing `size` bytes, then
    PATCHes to the URL it answered, from offset 0, until all the bytes are there. Answers the
    upload's URL."""
    create = requests[0]
    assert create.method == "POST", [(r.method, r.url) for r in requests]
    assert create.url.endswith("/api/v1/uploads/")
    assert create.headers["tus-resumable"] == "1.0.0"
    assert create.headers["upload-length"] == str(size)
    assert create.headers["upload-metadata"].startswith("filename ")
    created = create.response()
    assert created is not None
    assert created.status == 201
    url = urljoin(create.url, created.headers["location"])
    patches = [r for r in requests[1:] if r.method == "PATCH"]
    assert patches
    assert all(r.url == url for r in patches)
    assert patches[0].headers["upload-offset"] == "0"
    assert all(r.headers["tus-resumable"] == "1.0.0" for r in patches)
    assert patches[0].headers["content-type"] == "application/offset+octet-stream"
    last = patches[-1].response()
    assert last is not None
    assert last.status == 204
    assert last.headers["upload-offset"] == str(size)
    return url


def _shot(page: Page, artifacts_dir: Path, name: str) -> None:
    page.screenshot(path=str(artifacts_dir / name), full_page=True)


def test_csv_to_prediction_in_the_browser(
    embedded_stack: Stack, page: Page, artifacts_dir: Path, tmp_path: Path
) -> None:
    stack = embedded_stack
    problems = watch_console(page)
    content = breast_cancer_csv()
    csv_file = tmp_path / "cancer.csv"
    csv_file.write_bytes(content)
    first_row = next(csv.DictReader(io.StringIO(content.decode())))

    # given a person who opens the console without a session
    page.goto(stack.url + "/")

    # then Django's sign-in form asks who they are
    expect(page).to_have_url(re.compile(r"/login/"))
    expect(page.locator("#login-form")).to_be_visible()
    _shot(page, artifacts_dir, "01-login.png")

    # when they sign in
    page.fill("#id_username", USER)
    page.fill("#id_password", stack.passwords[USER])
    page.click("#login-submit")

    # then the app opens on the datasets page with their name in the top bar
    expect(page).to_have_url(re.compile(r"#/datasets$"))
    expect(page.locator("#whoami")).to_have_text(USER)
    expect(page.locator("#upload-form")).to_be_visible()
    expect(page.locator("#datasets-table tbody")).not_to_contain_text("Loading")
    _shot(page, artifacts_dir, "02-datasets.png")

    # when they upload the CSV
    uploads: list[Request] = []
    page.on("request", lambda r: uploads.append(r) if "/api/v1/uploads/" in r.url else None)
    page.set_input_files("#upload-file", str(csv_file))
    page.click("#upload-submit")

    # then it is listed with all 569 rows and 10 columns
    expect(page.locator(".notice")).to_have_text("Uploaded “cancer”.")
    # (and the bytes went up through tus 1.0: creation, then a PATCH to the upload it made)
    assert_tus_upload(uploads, len(content))
    row = page.get_by_test_id("dataset-row").filter(
        has=page.locator("td", has_text=re.compile("^cancer$"))
    )
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(1)).to_have_text("569")
    expect(row.locator("td").nth(2)).to_have_text("10")
    _shot(page, artifacts_dir, "03-dataset-uploaded.png")

    # when they open Train: the dataset's page, then its way into the new-job wizard
    row.get_by_role("link", name="Train").click()
    expect(page.get_by_test_id("column-row")).to_have_count(10)
    expect(page.locator("#train-card")).to_contain_text("diagnosis")
    page.click("#train-link")

    # then the wizard opens on its target step with the profile's suggestions filled in
    expect(page).to_have_url(re.compile(r"#/jobs/new/\d+/target$"))
    # (the choices are listbox widgets; each one's hidden native select holds its value)
    expect(page.locator('select[name="target"]')).to_have_value("diagnosis")
    expect(page.locator("#job-target-type")).to_have_text("type: categorical, 2 distinct")
    expect(page.locator('select[name="task_type"]')).to_have_value("binary")
    # (only the chosen task's own options are shown)
    expect(page.locator("#job-forecast-options")).to_be_hidden()
    expect(page.locator("#job-multilabel-options")).to_be_hidden()

    # when they go on to the budget and ask for 2 trials of at most 3 epochs with a seed
    page.click("#wizard-next")
    expect(page.locator("#wizard-step-budget-heading")).to_be_focused()
    # (time is the main control: presets with their time; the seed waits under Advanced)
    expect(page.locator('select[name="budget"]')).to_have_value("standard")
    expect(page.locator('select[name="budget"] option[value="quick"]')).to_have_text(
        "Quick — 1 min"
    )
    expect(page.locator("#job-seed")).to_be_hidden()
    page.fill("#job-max-trials", "2")
    page.fill("#job-max-epochs", "3")
    page.click("#job-advanced summary")
    page.fill("#job-seed", "4242")
    _shot(page, artifacts_dir, "04-job-form.png")
    page.click("#wizard-next")

    # then the review says what the budget buys, by the stated rule, and they create the job
    expect(page.locator("#job-estimate")).to_have_text(
        "About 2 trials of up to 3 epochs on 569 rows (341 to train), finishing in under a minute."
    )
    expect(page.locator("#review-target")).to_have_text("diagnosis")
    _shot(page, artifacts_dir, "04-job-review.png")
    page.click("#job-submit")

    # then they arrive at the job's page, following it live
    expect(page).to_have_url(re.compile(r"#/jobs/\d+$"))
    status = page.locator("#job-status")
    trial_rows = page.get_by_test_id("trial-row")
    expect(status).to_be_visible()
    expect(page.locator("#trials-table")).to_be_visible()
    expect(page.locator("#job-info-seed")).to_have_text("4242")
    expect(page.locator("#job-info-budget")).to_have_text("standard (3 min)")

    # when the first trial shows up while the job is still running (if we are quick enough)
    page.wait_for_function(
        """() => document.querySelector('#job-status')?.textContent === 'SUCCEEDED'
             || document.querySelectorAll('[data-testid="trial-row"]').length > 0""",
        timeout=TRAINING_TIMEOUT_MS,
        polling=100,
    )
    if status.text_content() == "RUNNING" and trial_rows.count() > 0:
        expect(page.locator("#ws-state")).to_have_text("live")
        if status.text_content() == "RUNNING":
            expect(page.locator("#stop-button")).to_have_text("Stop and keep best")
        _shot(page, artifacts_dir, "05-job-live.png")
    else:
        print("the job finished before a trial row could be caught while RUNNING; no 05 shot")

    # then the job succeeds with both trials and an accuracy on the test split
    expect(status).to_have_text("SUCCEEDED", timeout=TRAINING_TIMEOUT_MS)
    expect(trial_rows).to_have_count(2)
    for n in range(2):
        expect(trial_rows.nth(n).locator(".status")).to_have_text("COMPLETED")
    expect(page.locator("#epoch-log li").first).to_be_visible()
    # the best trial is marked by its number, which the job records (not the trial's row id)
    job_id = page.url.rsplit("/", 1)[-1]
    best = page.request.get(f"{stack.url}/api/v1/jobs/{job_id}/").json()["best_trial"]
    expect(page.locator('tr.best[data-testid="trial-row"]')).to_have_count(1)
    expect(page.locator("tr.best")).to_have_attribute("data-trial", str(best))
    accuracy = page.locator("#test-metrics tr").filter(
        has=page.locator("th", has_text=re.compile("^accuracy$"))
    )
    expect(accuracy.locator("td")).to_have_text(re.compile(r"^(0(\.\d+)?|1)$"))
    assert float(accuracy.locator("td").inner_text()) > 0.8
    # the confusion matrix is a table with the class names on both axes, not a JSON list
    matrix = page.locator("#confusion-matrix")
    expect(matrix.locator("thead th")).to_have_text(["true ↓ / predicted →", *LABELS])
    expect(matrix.locator("tbody th")).to_have_text(list(LABELS))
    counts = [int(c) for c in matrix.locator("tbody td").all_inner_texts()]
    assert len(counts) == 4
    assert sum(counts) > 0
    assert (counts[0] + counts[3]) / sum(counts) > 0.8  # the diagonal: what it got right
    expect(page.locator("#deploy-button")).to_be_enabled()
    # a finished job can be neither cancelled nor stopped
    expect(page.locator("#cancel-button")).to_be_hidden()
    expect(page.locator("#stop-button")).to_be_hidden()
    _shot(page, artifacts_dir, "06-job-done.png")

    # when they deploy the best model
    page.click("#deploy-button")

    # then the deployment page shows it READY with its endpoint and a prediction form
    expect(page).to_have_url(re.compile(r"#/deployments/[\w-]+$"))
    expect(page.locator("#deployment-status")).to_have_text("READY", timeout=DEPLOY_TIMEOUT_MS)
    expect(page.locator("#deployment-endpoint")).to_have_text(
        re.compile(re.escape(stack.predictor_url) + r"/v1/deployments/[\w-]+/predict$")
    )
    expect(page.locator("#predict-submit")).to_be_enabled()
    fields = page.locator("#predict-form [data-column]")
    expect(fields).to_have_count(9)
    _shot(page, artifacts_dir, "07-deployment-ready.png")

    # when they fill in the first CSV row's features and ask for a prediction
    for column in fields.evaluate_all("els => els.map(e => e.dataset.column)"):
        field = page.locator(f'#predict-form [data-column="{column}"]')
        if field.evaluate("e => e.tagName") == "BUTTON":
            # a choice is a React Aria select: open it, pick the option
            field.click()
            page.get_by_role("option", name=first_row[column], exact=True).click()
        else:
            field.fill(first_row[column])
    with page.expect_response(re.compile(r"/predict/$")) as answer:
        page.click("#predict-submit")
    assert answer.value.status == 200, answer.value.text()

    # then the model answers with one of the two diagnoses and its probabilities
    result = page.locator("#prediction-result")
    expect(result.locator(".label")).to_have_text(re.compile(f"^({'|'.join(LABELS)})$"))
    expect(result.locator(".probabilities tr")).to_have_count(2)
    expect(page.locator("#predict-form .error")).to_have_count(0)
    _shot(page, artifacts_dir, "08-prediction.png")

    # when they type a word into a numeric field and press Predict
    predict_calls: list[str] = []
    page.on("request", lambda r: predict_calls.append(r.url) if "/predict/" in r.url else None)
    texture = page.locator('#predict-form [data-column="mean_texture"]')
    texture.fill("")
    texture.press_sequentially("large")
    page.click("#predict-submit")
    page.wait_for_timeout(500)

    # then the browser itself refuses the form (an <input type=number> cannot hold a word), so
    # no malformed value ever reaches the server and no server error can name the field here;
    # the last prediction stays on screen
    assert texture.evaluate("e => e.validity.badInput") is True
    assert page.locator("#predict-form").evaluate("f => f.checkValidity()") is False
    assert predict_calls == []
    expect(result.locator(".label")).to_be_visible()

    # when the field is left blank instead
    texture.fill("")
    with page.expect_response(re.compile(r"/predict/$")) as answer:
        page.click("#predict-submit")

    # then it is sent as a missing value, which the model imputes, and it still predicts
    sent = answer.value.request.post_data_json
    assert sent is not None
    assert sent["instances"][0]["mean_texture"] is None
    assert answer.value.status == 200, answer.value.text()
    expect(result.locator(".label")).to_have_text(re.compile(f"^({'|'.join(LABELS)})$"))
    expect(page.locator("#predict-form .error")).to_have_count(0)

    # and nothing went wrong in the page along the way
    assert problems == []
