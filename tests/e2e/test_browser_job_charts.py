"""The job page's charts, drawn live in a real browser as epochs and trials arrive."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import breast_cancer_csv
from tests.e2e import flow
from tests.e2e.test_browser import TRAINING_TIMEOUT_MS, page, watch_console  # noqa: F401 - fixture
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
    page.screenshot(path=str(artifacts_dir / "job-charts.png"), full_page=True)

    # and on a phone the charts shrink to the screen instead of scrolling it sideways
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_function(
        "() => [...document.querySelectorAll('.chart canvas')]"
        ".every(c => c.getBoundingClientRect().right <= 390)"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(artifacts_dir / "job-charts-phone.png"), full_page=True)
    assert page.evaluate("window.__csp") == []
    assert problems == []
