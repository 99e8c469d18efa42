"""The job page's charts, drawn live in a real browser as epochs and trials arrive, and the
result plots (ROC curve, residuals) of the versions the jobs register."""

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
    page.goto(stack.url + "/")
    page.fill("#id_username", USER)
    page.fill("#id_password", stack.passwords[USER])
    page.click("#login-submit")
    expect(page.locator("#whoami")).to_have_text(USER)

    # given a small job, followed from the moment it is made (the app is loaded: a hash change)
    with stack.client(USER) as client:
        job = flow.create_job(client, dataset["id"], max_trials=2, max_epochs=4, seed=7)
        # a small regression on the same rows, for the residual plot; it trains meanwhile
        regression = flow.create_job(
            client,
            dataset["id"],
            target="mean_texture",
            task_type="regression",
            max_trials=1,
            max_epochs=2,
            seed=7,
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
    picker = page.get_by_label("Hyperparameter to plot")
    names = picker.locator("option").all_inner_texts()
    assert len(names) >= 2, names
    expect(page.locator("#hp-chart .u-legend")).to_contain_text(names[0])
    expect(page.locator("#hp-chart-summary")).to_contain_text(f"2 trial(s) with {names[0]}")
    assert page.evaluate(DATA_PIXELS, "hp-chart") > 10
    picker.select_option(names[1])
    expect(page.locator("#hp-chart .u-legend")).to_contain_text(names[1])
    expect(page.locator("#hp-chart-summary")).to_contain_text(names[1])
    assert int(hp.get_attribute("data-points") or 0) >= 1

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
    with stack.client(USER) as client:
        deadline = time.monotonic() + TRAINING_TIMEOUT_MS / 1000
        while (done := client.get(f"/api/v1/jobs/{regression['id']}/").json())["status"] in (
            "QUEUED",
            "RUNNING",
        ):
            assert time.monotonic() < deadline, "the regression job did not finish"
            time.sleep(0.5)
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
