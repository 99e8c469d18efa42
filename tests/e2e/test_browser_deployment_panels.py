"""A deployment's page in a real browser: an API key made (shown once, with a copy button),
used and revoked in the keys panel, and the traffic panel counting a prediction. The model is
the session's already trained one, registered and deployed on the stack in one shell call
rather than trained again through the UI (the walking skeleton does that)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from playwright.sync_api import Page, expect

from tests.e2e import flow
from tests.e2e.test_browser import (  # noqa: F401 - the page fixture
    assert_charts_fit_a_phone,
    page,
    sign_in,
    watch_console,
)
from tests.stack import Stack, _manage

pytestmark = [pytest.mark.stack, pytest.mark.browser]
USER = "panels"  # its own user: the other browser and REST tests share the stack
NAME = "panels-cancer"

_DEPLOY = """
from pathlib import Path
from django.contrib.auth import get_user_model
from console.tokens import token_create
from jobs.models import TrainingJob
from models_registry import services
from tests.factories import make_dataset
owner = get_user_model().objects.create_user("{user}", password="{user}-Passw0rd!")
job = TrainingJob.objects.create(
    owner=owner, dataset=make_dataset(owner), dataset_sha256="0" * 64, target="diagnosis",
    task_type="binary", status=TrainingJob.Status.SUCCEEDED, test_metrics={{"accuracy": 0.9}},
)
version = services.model_version_register(job=job, model_path=Path("{path}"))
services.deployment_create(owner=owner, model_version=version, name="{name}")
print("TOKEN", token_create(user=owner, name="tests").raw)
"""


def test_keys_are_made_shown_once_and_revoked_and_traffic_is_counted(
    embedded_stack: Stack,
    page: Page,  # noqa: F811
    searched: Any,
    cancer_frame: pd.DataFrame,
) -> None:
    stack = embedded_stack
    model_path: Path = searched[2]
    made = _manage(stack.env, "shell", "-c", _DEPLOY.format(user=USER, path=model_path, name=NAME))
    token = next(r.split()[1] for r in made.splitlines() if r.startswith("TOKEN "))
    client = httpx.Client(base_url=stack.url, headers={"Authorization": f"Token {token}"})
    assert flow.wait_ready(client, NAME)["status"] == "READY"
    problems = watch_console(page)

    sign_in(page, stack, USER, f"{USER}-Passw0rd!")
    page.goto(f"{stack.url}/#/deployments/{NAME}")
    expect(page.locator("#deployment-status")).to_have_text("READY")
    expect(page.locator("#keys-table tbody")).to_contain_text("No keys yet.")
    expect(page.locator("#metrics-requests")).to_have_text("0")
    # what it serves, with no other version to swap to, and the shell call that predicts
    expect(page.locator("#serving-now")).to_have_text(re.compile(r"^v\d+ answers every request\.$"))
    expect(page.locator("#serving-panel")).to_contain_text("No other version of this model")
    expect(page.locator("#deployment-curl")).to_contain_text(f"/deployments/{NAME}/predict")

    # when they make a key, it is shown this once, with a copy button
    page.fill("#key-name", "app")
    page.fill("#key-rate", "100")
    page.click("#key-form button[type=submit]")
    secret = page.locator("#key-value")
    expect(secret).to_have_text(re.compile(r"^dk_"))
    key = secret.inner_text()
    expect(page.locator("#key-copy")).to_be_visible()
    row = page.get_by_test_id("key-row").filter(has_text="app")
    expect(row).to_have_count(1)
    expect(row).not_to_contain_text(key)
    expect(row).to_contain_text("100/min")
    expect(row.get_by_test_id("key-state")).to_have_text("active")

    # the key predicts on the predictor; the traffic panel counts it (as the writer flushes)
    body = {"instances": cancer_frame.drop(columns="diagnosis").iloc[:1].to_dict("records")}
    headers = {"Authorization": f"Bearer {key}"}
    url = f"{stack.predictor_url}/v1/deployments/{NAME}/predict"
    assert httpx.post(url, json=body, headers=headers).status_code == 200
    expect(page.locator("#metrics-requests")).to_have_text("1", timeout=20_000)
    expect(page.get_by_test_id("metrics-version")).to_have_count(1)
    expect(page.get_by_test_id("metrics-batch-bucket")).to_have_text(["1 row: 1"])
    # and the latency and requests charts plot that minute: p50, p95 and p99 over an hour's axis
    latency = page.get_by_role("img", name="Latency by minute (ms)")
    expect(latency).to_have_attribute("data-points", "3")
    expect(page.locator("#latency-chart .u-legend")).to_contain_text("p99")
    expect(page.locator("#latency-chart-summary")).to_contain_text("Highest p95 in the hour: ")
    expect(page.get_by_role("img", name="Requests by minute")).to_have_attribute("data-points", "1")
    expect(page.locator("#requests-chart-summary")).to_contain_text("1 request(s) in the last hour")
    # (and on a phone they shrink to the screen instead of scrolling it sideways)
    assert_charts_fit_a_phone(page)
    page.set_viewport_size({"width": 1280, "height": 900})

    # when they revoke it (and confirm in the dialog), it says so, and the key stops working
    row.get_by_test_id("revoke-key").click()
    confirm = page.get_by_role("alertdialog")
    expect(confirm).to_contain_text("Clients using it stop within a second.")
    confirm.get_by_role("button", name="Revoke key").click()
    expect(confirm).to_have_count(0)
    expect(row.get_by_test_id("key-state")).to_have_text("revoked")
    expect(row.get_by_test_id("revoke-key")).to_have_count(0)
    # a reload shows the key nowhere: it was shown once
    page.reload()
    expect(page.get_by_test_id("key-row")).to_have_count(1)
    expect(page.locator("#key-value")).to_have_count(0)
    expect(page.locator("#keys-panel")).not_to_contain_text(key)
    assert problems == []
