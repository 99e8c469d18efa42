"""The upload form's tus client in the browser: a cancelled upload is terminated on the server."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest
from playwright.sync_api import Error, Page, Request, Route, expect

from tests.conftest import breast_cancer_csv
from tests.e2e.test_browser import assert_tus_upload, page, sign_in, watch_console  # noqa: F401
from tests.stack import Stack

USER = "uploader"  # its own user: the other browser and REST tests share the stack
UPLOAD_URL = re.compile(r"/api/v1/uploads/[0-9a-f-]{36}/$")

pytestmark = [pytest.mark.stack, pytest.mark.browser]


def test_a_cancelled_upload_is_terminated_and_the_file_can_go_up_again(
    embedded_stack: Stack,
    page: Page,  # noqa: F811
    tmp_path: Path,
) -> None:
    stack = embedded_stack
    stack.add_user(USER)
    owner = stack.client(USER)
    problems = watch_console(page)
    content = breast_cancer_csv()
    csv_file = tmp_path / "held.csv"
    csv_file.write_bytes(content)
    sign_in(page, stack, USER)
    expect(page.locator("#upload-form")).to_be_visible()

    # given an upload whose bytes never get through (the PATCH is held back in the browser)
    held: list[Route] = []

    def hold_patches(route: Route) -> None:
        if route.request.method == "PATCH":
            held.append(route)
        else:
            route.continue_()

    page.route(UPLOAD_URL, hold_patches)
    uploads: list[Request] = []
    page.on("request", lambda r: uploads.append(r) if "/api/v1/uploads/" in r.url else None)
    with page.expect_request(lambda r: r.method == "PATCH"):
        page.set_input_files("#upload-file", str(csv_file))
        page.click("#upload-submit")
    created = uploads[0].response()
    assert created is not None
    assert created.status == 201
    upload_id = created.headers["location"].rstrip("/").rsplit("/", 1)[-1]
    staged = stack.data_dir / "media" / "staging" / f"{upload_id}.part"
    assert staged.exists()
    assert owner.get(f"/api/v1/uploads/{upload_id}/").status_code == 200
    # the bar is there from the start, with the size
    expect(page.locator("#upload-percent")).to_have_text("0%")
    expect(page.locator("#upload-phase")).to_contain_text(f"of {len(content) / 1024:.1f} KiB")

    # when they press Cancel while it is under way
    with page.expect_response(lambda r: r.request.method == "DELETE") as deleted:
        page.click("#upload-cancel")

    # then tus terminates it: the server answers 204 and forgets the upload and its bytes
    assert deleted.value.status == 204
    assert deleted.value.url == uploads[0].url + f"{upload_id}/"
    assert deleted.value.request.headers["tus-resumable"] == "1.0.0"
    expect(page.locator("#upload-phase")).to_have_text(
        "Cancelled; nothing of the file is kept on the server."
    )
    expect(page.locator("#upload-cancel")).to_be_hidden()
    assert owner.get(f"/api/v1/uploads/{upload_id}/").status_code == 404
    assert not staged.exists()
    for route in held:
        with contextlib.suppress(Error):  # the browser already dropped the request
            route.abort()

    # when they upload the same file again with nothing in the way
    page.unroute(UPLOAD_URL)
    uploads.clear()
    page.click("#upload-submit")

    # then it goes up afresh (not resumed from the terminated upload) and becomes a dataset
    expect(page.locator(".notice")).to_have_text("Uploaded “held”.")
    url = assert_tus_upload(uploads, len(content))
    assert upload_id not in url
    assert problems == []
