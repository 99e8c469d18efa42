"""A deployment nobody calls is unloaded from the replica, and loaded again by the next
request, which waits for it; its status stays READY throughout."""

from __future__ import annotations

import time
from typing import Any

import pandas as pd
import pytest

from models_registry import services
from models_registry.models import Deployment, ModelVersion
from models_registry.predictor.app import predictor as state
from models_registry.predictor.idle import Sweeper
from tests.models_registry.predictor_client import client_for, refresh

# The waking load runs on a worker thread, with a connection of its own, as in a replica.
pytestmark = pytest.mark.django_db(transaction=True)
URL = "/v1/deployments/cancer/predict"


@pytest.fixture
def deployed(personas: dict[str, Any], version: ModelVersion) -> Deployment:
    deployment = services.deployment_create(
        owner=personas["owner"], model_version=version, name="cancer"
    )
    refresh()
    return deployment


def _row(frame: pd.DataFrame) -> dict[str, Any]:
    return dict(frame.drop(columns="diagnosis").iloc[0].to_dict())


def test_an_idle_deployment_is_unloaded_and_the_next_request_loads_it(
    personas: dict[str, Any], deployed: Deployment, cancer_frame: pd.DataFrame
) -> None:
    client = client_for(personas["owner"])
    first = client.post(URL, {"instances": [_row(cancer_frame)]})
    assert first.status_code == 200

    # a deployment used just now is kept
    assert state.host.unload_idle(60) == []
    # when no request came for longer than the idle time, it is unloaded, model and all
    assert state.host.unload_idle(60, now=time.monotonic() + 61) == [deployed.pk]
    assert deployed.pk not in state.host.active
    assert state.host._versions == {}
    # and the watcher's refresh does not load it back, nor change its status
    refresh()
    assert deployed.pk not in state.host.active
    deployed.refresh_from_db()
    assert deployed.status == Deployment.Status.READY

    # then the next request waits while it loads, and answers as before
    again = client.post(URL, {"instances": [_row(cancer_frame)]})
    assert again.status_code == 200
    assert again.json()["predictions"] == first.json()["predictions"]
    assert deployed.pk in state.host.active
    assert deployed.pk not in state.host.idle
    deployed.refresh_from_db()
    assert deployed.status == Deployment.Status.READY


def test_the_sweeper_unloads_only_when_configured(
    personas: dict[str, Any], deployed: Deployment, settings: Any
) -> None:
    settings.PREDICTOR_IDLE_UNLOAD_SECONDS = 0
    assert Sweeper.start_for(state.host) is None

    settings.PREDICTOR_IDLE_UNLOAD_SECONDS = 0.2
    sweeper = Sweeper.start_for(state.host)
    assert sweeper is not None
    try:
        deadline = time.monotonic() + 5
        while deployed.pk in state.host.active and time.monotonic() < deadline:
            time.sleep(0.05)
        assert deployed.pk in state.host.idle
    finally:
        sweeper.stop()
