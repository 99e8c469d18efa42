"""Names a user chose are shown as text in the UI: a column or dataset named like markup is
never parsed as HTML, so it runs nothing."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_browser import page, sign_in, watch_console  # noqa: F401 - the page fixture
from tests.stack import Stack

USER = "markup"  # its own user: the other browser and REST tests share the stack
SCRIPT = "<script>window.__xss = 1</script>"
IMAGE = '<img src="x" onerror="window.__xss = 2">'
NAME = '<b onmouseover="window.__xss = 3">bold</b> table'

pytestmark = [pytest.mark.stack, pytest.mark.browser]


def _markup_dataset(stack: Stack) -> int:
    frame = pd.DataFrame(
        {SCRIPT: [float(i) for i in range(60)], IMAGE: ["a", "b", "c"] * 20, "y": [0, 1] * 30}
    )
    with stack.client(USER) as api:
        made = api.post(
            "/api/v1/datasets/",
            files={"file": ("markup.csv", frame.to_csv(index=False).encode(), "text/csv")},
            data={"name": NAME},
        )
        assert made.status_code in (200, 201), made.text
        dataset_id = int(made.json()["id"])
        deadline = time.monotonic() + 120
        while (found := api.get(f"/api/v1/datasets/{dataset_id}/").json())["status"] != "READY":
            assert found["status"] != "FAILED", found["error"]
            assert time.monotonic() < deadline, "the dataset was not profiled in time"
            time.sleep(0.5)
        columns = [c["name"] for c in found["columns"]] if "columns" in found else []
        assert not columns or SCRIPT in columns, columns
    return dataset_id


def test_markup_in_column_and_dataset_names_is_shown_as_text(
    embedded_stack: Stack,
    page: Page,  # noqa: F811
) -> None:
    stack = embedded_stack
    stack.add_user(USER)
    dataset_id = _markup_dataset(stack)
    watch_console(page)
    sign_in(page, stack, USER)

    # the list shows the dataset's name as typed
    page.goto(f"{stack.url}/#/datasets")
    expect(page.get_by_text(NAME).first).to_be_visible()
    # and its page shows each column's name as typed, markup and all
    page.goto(f"{stack.url}/#/datasets/{dataset_id}")
    expect(page.get_by_text(SCRIPT).first).to_be_visible()
    expect(page.get_by_text(IMAGE).first).to_be_visible()
    page.get_by_text(NAME).first.hover()
    page.wait_for_load_state("networkidle")

    # none of it became an element, so none of it ran
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator('img[src="x"]').count() == 0
    assert page.locator("b[onmouseover]").count() == 0
    for script in page.locator("script").all():
        assert "__xss" not in (script.text_content() or "")
