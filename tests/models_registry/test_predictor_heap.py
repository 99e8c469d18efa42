"""The predictor freezes its heap once its models are loaded, so no full garbage collection
walks them while requests wait; a model it lets go is still collected
(models_registry.predictor.heap)."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest

from models_registry import services
from models_registry.models import ModelVersion
from models_registry.predictor.app import predictor
from tests.models_registry.predictor_client import refresh

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _unfrozen() -> Any:
    yield
    gc.unfreeze()  # the rest of the test run collects as usual


def test_loaded_models_are_frozen_and_an_undeployed_one_is_still_collected(
    personas: dict[str, Any], version: ModelVersion
) -> None:
    owner = personas["owner"]
    deployment = services.deployment_create(owner=owner, model_version=version, name="cancer")
    gc.unfreeze()
    refresh()

    # once loaded, the model (and all else alive) is out of the collector's walks
    hosted = predictor.host.active[deployment.pk]
    assert gc.get_freeze_count() > 10_000
    model = weakref.ref(hosted.served.model)
    del hosted

    # when it is undeployed, the frozen model, a web of reference cycles, is collected anyway
    services.deployment_undeploy(actor=owner, deployment=deployment)
    refresh()
    assert deployment.pk not in predictor.host.active
    assert model() is None, "the undeployed model was kept alive by the frozen heap"
    assert gc.get_freeze_count() > 10_000
