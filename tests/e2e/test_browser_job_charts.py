"""The job page's charts, drawn live in a real browser as epochs and trials arrive, and the
result plots (ROC curves of two and of three classes, residuals) of the versions the jobs
register."""

from __future__ import annotations

import itertools
import re
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import breast_cancer_csv
from tests.e2e import flow
from tests.e2e.test_browser import (  # noqa: F401 - the page fixture
    TRAINING_TIMEOUT_MS,
    assert_charts_fit_a_phone,
    page,
    sign_in,
    watch_console,
)
from tests.stack import Stack

USER = "charts"  # its own user: the other browser and REST tests share the stack

pytestmark = [pytest.mark.stack, pytest.mark.browser]

# Installed before the app's script runs: every value the charts' data-points attribute takes,
# with the job's status at that moment and the progress bar's text, and any CSP violation (uPlot
# sizes its elements from script; an inline style the CSP refused would show up here).
RECORDER = """
window.__chartLog = [];
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || ''));
});
new MutationObserver((records) => {
  for (const r of records) {
    const row = document.querySelector('#job-progress-row');
    window.__chartLog.push({
      chart: r.target.id,
      points: Number(r.target.getAttribute('data-points')),
      status: document.querySelector('#job-status')?.textContent ?? null,
      progress: row && !row.hidden ? row.textContent : null,
    });
  }
}).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-points'] });
"""

# How many of a chart's canvas pixels are exactly a series' colour (#2f5bea): drawn data, not
# the axes and grid, which uPlot paints in greys.
DATA_PIXELS = """
(id) => {
  const c = document.querySelector('#' + id + ' canvas');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] === 47 && d[i + 1] === 91 && d[i + 2] === 234) n++;
  return n;
}
"""


def wait_finished(stack: Stack, job_id: int) -> dict[str, Any]:
    with stack.client(USER) as client:
        deadline = time.monotonic() + TRAINING_TIMEOUT_MS / 1000
        while (done := client.get(f"/api/v1/jobs/{job_id}/").json())["status"] in (
            "QUEUED",
            "RUNNING",
        ):
            assert time.monotonic() < deadline, f"job {job_id} did not finish"
            time.sleep(0.5)
    return dict(done)


def assert_no_json_text(view: Page) -> None:
    """Nested results are tables and charts: no table on the page prints `[[…]]` or `{…}`."""
    texts = view.locator("#view table").all_inner_texts()
    assert texts
    for text in texts:
        assert "[[" not in text
        assert "{" not in text
        assert not re.search(r"\de-\d\d", text)  # float noise such as -3.701e-17


def test_charts_follow_a_running_job(
    embedded_stack: Stack,
    page: Page,  # noqa: F811
    artifacts_dir: Path,
) -> None:
    stack = embedded_stack
    stack.add_user(USER)
    with stack.client(USER) as client:
        dataset = flow.upload(client, breast_cancer_csv())
    problems = watch_console(page)
    page.add_init_script(RECORDER)
    sign_in(page, stack, USER)

    # given a small job, followed from the moment it is made (the app is loaded: a hash change)
    with stack.client(USER) as client:
        job = flow.create_job(client, dataset["id"], max_trials=2, max_epochs=4, seed=7)
        # small jobs on the same rows that train meanwhile: a regression for the residual plot,
        # and three classes (the clinic each row came from) for one ROC curve per class
        regression, classes = (
            flow.create_job(
                client,
                dataset["id"],
                target=target,
                task_type=task_type,
                max_trials=1,
                max_epochs=epochs,
                seed=7,
            )
            for target, task_type, epochs in (
                ("mean_texture", "regression", 2),
                ("clinic", "multiclass", 1),
            )
        )
    page.evaluate("id => { location.hash = '#/jobs/' + id; }", job["id"])

    # then each chart is a named image with a text summary beside it
    curve = page.get_by_role("img", name=re.compile("^Learning curves"))
    best = page.get_by_role("img", name=re.compile("^Best score so far"))
    expect(curve).to_have_attribute("id", "learning-curve")
    expect(best).to_have_attribute("id", "best-so-far")
    expect(page.locator("#learning-curve-summary")).not_to_be_empty()

    # when the job runs to the end
    expect(page.locator("#job-status")).to_have_text("SUCCEEDED", timeout=TRAINING_TIMEOUT_MS)

    # then the learning curve gained points while it ran, one redraw after another
    log: list[dict[str, Any]] = page.evaluate("window.__chartLog")
    running = [
        e["points"] for e in log if e["chart"] == "learning-curve" and e["status"] == "RUNNING"
    ]
    assert any(b > a for a, b in itertools.pairwise(running)), f"no growth while RUNNING: {log}"
    assert max(running) >= 2, running
    # (and the progress bar counted trials against the budget while the job ran, then went away)
    shown = [e["progress"] for e in log if e["status"] == "RUNNING" and e["progress"]]
    assert any(re.match(r"^[0-2] of 2 trials finished · ", text) for text in shown), shown
    assert any(text.startswith("1 of 2 trials finished · about ") for text in shown), shown
    expect(page.locator("#job-progress-row")).to_be_hidden()

    # and the best-so-far chart has one point per finished trial, summarised in words
    finished = [
        t
        for t in page.request.get(f"{stack.url}/api/v1/jobs/{job['id']}/").json()["trials"]
        if t["status"] == "COMPLETED"
    ]
    assert len(finished) == 2
    expect(best).to_have_attribute("data-points", "2")
    expect(page.locator("#best-so-far-summary")).to_contain_text("2 trial(s) finished")
    # the curves end on the best trial's last reported epoch
    expect(page.locator("#learning-curve-summary")).to_contain_text(
        re.compile(r"\(best\): val_loss ")
    )
    assert int(curve.get_attribute("data-points") or 0) >= 1

    # and each scored trial is a point of the hyperparameter chart, for the one picked
    hp = page.get_by_role("img", name="Hyperparameters against the score")
    expect(hp).to_have_attribute("data-points", "2")
    # (the picker is a listbox: opened by its button, read, and closed again without a pick)
    picker = page.get_by_role("button", name=re.compile("Hyperparameter to plot"))
    picker.click()
    expect(page.get_by_role("option").first).to_be_visible()
    names = page.get_by_role("option").all_inner_texts()
    assert len(names) >= 2, names
    page.keyboard.press("Escape")
    expect(page.get_by_role("listbox")).to_have_count(0)
    expect(page.locator("#hp-chart .u-legend")).to_contain_text(names[0])
    expect(page.locator("#hp-chart-summary")).to_contain_text(f"2 trial(s) with {names[0]}")
    assert page.evaluate(DATA_PIXELS, "hp-chart") > 10
    picker.click()
    page.get_by_role("option", name=names[1], exact=True).click()
    expect(page.locator("#hp-chart .u-legend")).to_contain_text(names[1])
    expect(page.locator("#hp-chart-summary")).to_contain_text(names[1])
    assert int(hp.get_attribute("data-points") or 0) >= 1

    # and the parallel-coordinates view draws one line per finished trial, the best in green
    parallel = page.get_by_role("img", name="Hyperparameters of each trial, side by side")
    expect(parallel).to_have_attribute("data-lines", "2")
    lines = page.locator("#hp-parallel path.pc-line")
    expect(lines).to_have_count(2)
    expect(page.locator("#hp-parallel path.pc-line.best")).to_have_count(1)
    best_trial = page.request.get(f"{stack.url}/api/v1/jobs/{job['id']}/").json()["best_trial"]
    expect(page.locator("#hp-parallel path.best")).to_have_attribute("data-trial", str(best_trial))
    # an axis per hyperparameter that differs between the two trials, and the score's
    differing = [
        k
        for k, v in finished[0]["hyperparameters"].items()
        if not isinstance(v, dict | list) and finished[1]["hyperparameters"].get(k) != v
    ]
    assert differing
    expect(page.locator("#hp-parallel .pc-axis")).to_have_count(len(differing) + 1)
    expect(page.locator("#hp-parallel .pc-name").last).to_have_text("score (val. loss)")
    for i in range(2):
        box = lines.nth(i).bounding_box()
        assert box is not None
        assert box["width"] > 100, box  # drawn across the axes, not a dot
    expect(page.locator("#hp-parallel-summary")).to_contain_text(
        f"2 trial(s) across {len(differing)} hyperparameter(s)"
    )

    # and the test metrics are figures and a labelled confusion matrix, not JSON
    expect(page.locator("#confusion-matrix th").first).to_have_text("true ↓ / predicted →")
    expect(page.locator("#test-metrics")).to_contain_text("accuracy")
    assert_no_json_text(page)
    page.screenshot(path=str(artifacts_dir / "job-charts.png"), full_page=True)

    # and the version the job registered plots its ROC curve, from 0,0 to 1,1 against chance
    page.click("#job-version-link")
    roc = page.get_by_role("img", name=re.compile("^ROC curve"))
    expect(roc).to_have_attribute("id", "roc-curve")
    page.wait_for_function("() => Number(document.querySelector('#roc-curve').dataset.points) > 2")
    expect(page.locator("#roc-curve .u-legend")).to_contain_text("false positives")
    expect(page.locator("#roc-curve .u-legend")).to_contain_text("chance")
    expect(page.locator("#roc-curve-summary")).to_contain_text(
        re.compile(r"Area under the curve (0\.\d+|1) ")
    )
    assert page.evaluate(DATA_PIXELS, "roc-curve") > 50
    expect(page.locator("#confusion-matrix")).to_be_visible()
    assert_no_json_text(page)
    page.screenshot(path=str(artifacts_dir / "version-roc.png"), full_page=True)

    # and the regression's version plots its residuals against its predictions
    done = wait_finished(stack, regression["id"])
    assert done["status"] == "SUCCEEDED", done
    page.evaluate("id => { location.hash = '#/versions/' + id; }", done["model_version"])
    residuals = page.get_by_role("img", name=re.compile("^Residuals against predictions"))
    expect(residuals).to_have_attribute("id", "residual-plot")
    page.wait_for_function(
        "() => Number(document.querySelector('#residual-plot').dataset.points) > 50"
    )
    expect(page.locator("#residual-plot .u-legend")).to_contain_text("predicted")
    expect(page.locator("#residual-plot-summary")).to_contain_text(
        re.compile(r"^\d+ of \d+ test rows")
    )
    expect(page.locator("#residual-summary")).to_contain_text("95th percentile")
    assert page.evaluate(DATA_PIXELS, "residual-plot") > 50
    assert page.get_by_role("img", name=re.compile("^ROC curve")).count() == 0
    assert_no_json_text(page)
    page.screenshot(path=str(artifacts_dir / "version-residuals.png"), full_page=True)

    # and the three-class version plots one ROC curve per class against the rest, in its legend
    done = wait_finished(stack, classes["id"])
    assert done["status"] == "SUCCEEDED", done
    page.evaluate("id => { location.hash = '#/versions/' + id; }", done["model_version"])
    curves = page.get_by_role("img", name=re.compile("^ROC curves"))
    expect(curves).to_have_attribute("id", "roc-curve")
    page.wait_for_function("() => Number(document.querySelector('#roc-curve').dataset.points) > 6")
    legend = page.locator("#roc-curve .u-legend .u-series")
    expect(legend).to_have_count(5)  # x, three classes, chance
    for clinic in ("east", "north", "south"):
        expect(page.locator("#roc-curve .u-legend")).to_contain_text(
            re.compile(clinic + r" \(AUC (0\.\d+|1)\)")
        )
    expect(page.locator("#roc-curve-summary")).to_contain_text("over 3 classes")
    assert page.evaluate(DATA_PIXELS, "roc-curve") > 20
    assert_no_json_text(page)
    page.screenshot(path=str(artifacts_dir / "version-roc-classes.png"), full_page=True)
    page.go_back()
    page.go_back()
    page.go_back()
    expect(page.locator("#job-status")).to_have_text("SUCCEEDED")

    # and on a phone the charts shrink to the screen instead of scrolling it sideways
    assert_charts_fit_a_phone(page)
    page.screenshot(path=str(artifacts_dir / "job-charts-phone.png"), full_page=True)
    # (the version page's result plots too)
    page.click("#job-version-link")
    expect(page.locator("#roc-curve")).not_to_have_attribute("data-points", "0")
    assert_charts_fit_a_phone(page)
    page.screenshot(path=str(artifacts_dir / "version-roc-phone.png"), full_page=True)
    assert page.evaluate("window.__csp") == []
    assert problems == []


def test_a_job_is_cancelled_only_once_the_dialog_confirms_it(
    embedded_stack: Stack,
    page: Page,  # noqa: F811
) -> None:
    stack = embedded_stack
    stack.add_user(USER)
    # given a long job, its page open
    with stack.client(USER) as client:
        # (not the first test's rows: the same bytes again are that same dataset)
        dataset = flow.upload(client, breast_cancer_csv(rows=540), name="cancel.csv")
        job = flow.create_job(client, dataset["id"], max_trials=30, max_epochs=100)
    problems = watch_console(page)
    page.add_init_script(RECORDER)
    sign_in(page, stack, USER)
    page.evaluate("id => { location.hash = '#/jobs/' + id; }", job["id"])
    cancel = page.get_by_role("button", name="Cancel", exact=True)

    # when they press Cancel, then think better of it
    cancel.click()
    dialog = page.get_by_role("alertdialog", name="Cancel this job?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Keep running")).to_be_focused()
    dialog.get_by_role("button", name="Keep running").click()

    # then nothing was asked of the server
    expect(dialog).to_have_count(0)
    with stack.client(USER) as client:
        assert not client.get(f"/api/v1/jobs/{job['id']}/").json().get("cancel_requested")

    # when they press it again and confirm
    cancel.click()
    page.get_by_role("alertdialog").get_by_role("button", name="Cancel job").click()

    # then the job is cancelled, and can be neither cancelled nor stopped again
    expect(page.locator("#job-status")).to_have_text("CANCELLED", timeout=60_000)
    expect(page.locator("#cancel-button")).to_be_hidden()
    expect(page.locator("#stop-button")).to_be_hidden()
    assert page.evaluate("window.__csp") == []
    assert problems == []
