"""A deployment nobody calls is unloaded from the replica, and loaded again by the next
request, which waits for it. Meanwhile its status says UNLOADED (LOADING while a request
loads it), and its readiness stays a 200: servable on demand, so probes do not flap."""

from __future__ import annotations

import time
from typing import Any

import pandas as pd
import pytest

from models_registry.models import Deployment
from models_registry.predictor.app import predictor as state
from models_registry.predictor.directory import read_snapshot
from models_registry.predictor.hosting import Host
from models_registry.predictor.idle import Sweeper
from tests.models_registry.predictor_client import client_for, refresh

# The waking load runs on a worker thread, with a connection of its own, as in a replica.
pytestmark = pytest.mark.django_db(transaction=True)
URL = "/v1/deployments/cancer/predict"


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
    # the database says so, and the watcher's refresh does not load it back
    deployed.refresh_from_db()
    assert deployed.status == Deployment.Status.UNLOADED
    refresh()
    assert deployed.pk not in state.host.active
    deployed.refresh_from_db()
    assert deployed.status == Deployment.Status.UNLOADED

    # readiness: servable (200, ready) but not loaded, in both protocols
    ready = client.get("/v1/deployments/cancer")
    assert ready.status_code == 200
    assert ready.json() == {
        "name": "cancer",
        "status": "UNLOADED",
        "ready": True,
        "loaded": False,
        "model_version": 1,
    }
    v2 = client.get("/v2/models/cancer/ready")
    assert (v2.status_code, v2.json()) == (
        200,
        {"name": "cancer", "ready": True, "state": "UNLOADED"},
    )
    assert client.get("/v2/models/cancer/versions/1/ready").status_code == 200
    assert client.get("/v2/models/cancer/versions/2/ready").status_code == 503
    # while a request loads it, LOADING
    state.host.waking.add(deployed.pk)
    assert client.get("/v1/deployments/cancer").json()["status"] == "LOADING"
    state.host.waking.discard(deployed.pk)

    # then the next request waits while it loads, and answers as before
    again = client.post(URL, {"instances": [_row(cancer_frame)]})
    assert again.status_code == 200
    assert again.json()["predictions"] == first.json()["predictions"]
    assert deployed.pk in state.host.active
    assert deployed.pk not in state.host.idle
    deployed.refresh_from_db()
    assert deployed.status == Deployment.Status.READY
    ready = client.get("/v1/deployments/cancer")
    assert ready.status_code == 200
    assert (ready.json()["status"], ready.json()["loaded"]) == ("READY", True)


def test_unloaded_says_no_replica_holds_it(
    personas: dict[str, Any], deployed: Deployment, cancer_frame: pd.DataFrame
) -> None:
    """Two replicas: the status turns UNLOADED only once neither holds the model, and a
    replica that starts meanwhile does not load it until asked."""
    other = Host()
    other.reconcile(read_snapshot())
    assert deployed.pk in other.active
    assert deployed.pk in state.host.active

    state.host.unload_idle(60, now=time.monotonic() + 61)
    # the other replica still holds it: its next refresh says READY again
    other.reconcile(read_snapshot())
    deployed.refresh_from_db()
    assert deployed.status == Deployment.Status.READY
    other.unload_idle(60, now=time.monotonic() + 61)
    deployed.refresh_from_db()
    assert deployed.status == Deployment.Status.UNLOADED

    # a replica that starts now leaves it unloaded, and a request loads it there
    state.host.forget()
    refresh()
    assert deployed.pk in state.host.idle
    assert deployed.pk not in state.host.active
    answer = client_for(personas["owner"]).post(URL, {"instances": [_row(cancer_frame)]})
    assert answer.status_code == 200
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
