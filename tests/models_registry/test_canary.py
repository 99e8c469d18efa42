"""Swap, canary, promote and rollback of a deployment: through the API with each persona's
rights and each refusal, and through the predictor, which splits requests between the two
versions and says in every answer which one answered."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

from models_registry import services
from models_registry.models import AuditEvent, Deployment, ModelVersion
from models_registry.predictor.app import predictor as state
from tests.models_registry.predictor_client import client_for, refresh

pytestmark = pytest.mark.django_db
NAME = "cancer"
URL = f"/api/v1/deployments/{NAME}"
PREDICT = f"/v1/deployments/{NAME}/predict"


@pytest.fixture
def versions(personas: dict[str, Any], register: Callable[..., ModelVersion]) -> list[ModelVersion]:
    """v1 (deployed as 'cancer'), v2 and v3 of the owner's model."""
    found = [register(personas["owner"]) for _ in range(3)]
    services.deployment_create(owner=personas["owner"], model_version=found[0], name=NAME)
    return found


def _trail() -> list[tuple[str, str, str, str]]:
    events = AuditEvent.objects.filter(subject=NAME).order_by("pk")
    return [(e.action, e.actor_name, e.from_value, e.to_value) for e in events]


def test_swap_canary_promote_and_rollback_through_the_api(
    versions: list[ModelVersion], api_as: Any
) -> None:
    v1, v2, v3 = versions
    owner = api_as("owner")

    swapped = owner.post(f"{URL}/swap/", {"version": v2.pk}, format="json")
    assert swapped.status_code == 200, swapped.content
    assert (swapped.json()["model_version"], swapped.json()["version"]) == (v2.pk, 2)
    assert swapped.json()["canary_version"] is None

    canary = owner.post(f"{URL}/canary/", {"version": v3.pk, "percent": 30}, format="json")
    assert canary.status_code == 200, canary.content
    body = canary.json()
    assert (body["canary_version"], body["canary_version_number"], body["canary_percent"]) == (
        v3.pk,
        3,
        30,
    )
    assert owner.get(f"{URL}/").json()["canary_percent"] == 30

    promoted = owner.post(f"{URL}/promote/").json()
    assert (promoted["model_version"], promoted["canary_version"]) == (v3.pk, None)
    assert promoted["canary_percent"] is None

    owner.post(f"{URL}/canary/", {"version": v1.pk, "percent": 5}, format="json")
    rolled = owner.delete(f"{URL}/canary/")
    assert rolled.status_code == 200
    assert (rolled.json()["model_version"], rolled.json()["canary_version"]) == (v3.pk, None)
    owner.post(f"{URL}/canary/", {"version": v1.pk, "percent": 5}, format="json")
    assert owner.post(f"{URL}/rollback/").json()["canary_version"] is None

    nothing = owner.post(f"{URL}/rollback/")
    assert nothing.status_code == 409
    assert nothing.json()["code"] == "conflict"
    assert "no canary" in nothing.json()["detail"]
    assert owner.post(f"{URL}/promote/").status_code == 409

    assert _trail() == [
        ("deployed", "owner", "", "v1"),
        ("swapped", "owner", "v1", "v2"),
        ("canary_set", "owner", "v2", "v2 + v3 at 30%"),
        ("canary_promoted", "owner", "v2 + v3 at 30%", "v3"),
        ("canary_set", "owner", "v3", "v3 + v1 at 5%"),
        ("canary_rolled_back", "owner", "v3 + v1 at 5%", "v3"),
        ("canary_set", "owner", "v3", "v3 + v1 at 5%"),
        ("canary_rolled_back", "owner", "v3 + v1 at 5%", "v3"),
    ]


def test_what_cannot_be_served_is_refused(
    personas: dict[str, Any],
    versions: list[ModelVersion],
    register: Callable[..., ModelVersion],
    api_as: Any,
) -> None:
    v1, v2, v3 = versions
    owner = api_as("owner")
    other_model = register(personas["teammate"])
    # a version the owner cannot see (the teammate's): 400, naming the field
    refused = owner.post(f"{URL}/swap/", {"version": other_model.pk}, format="json")
    assert refused.status_code == 400
    assert refused.json()["fields"] == {"version": [f"No version {other_model.pk} you can see."]}
    assert owner.post(f"{URL}/swap/", {"version": "x"}, format="json").status_code == 400
    assert owner.post(f"{URL}/swap/", {}, format="json").json()["fields"] == {
        "version": ["This field is required."]
    }
    # percent out of range, the main version as its own canary
    for percent in (0, 100, -3):
        bad = owner.post(f"{URL}/canary/", {"version": v2.pk, "percent": percent}, format="json")
        assert bad.status_code == 400
        assert "percent" in bad.json()["fields"]
    same = owner.post(f"{URL}/canary/", {"version": v1.pk, "percent": 10}, format="json")
    assert same.status_code == 400
    assert "already the main version" in same.json()["detail"]
    # an archived version
    services.version_archive(actor=personas["owner"], version=v3)
    for url, body in ((f"{URL}/swap/", {}), (f"{URL}/canary/", {"percent": 10})):
        archived = owner.post(url, {"version": v3.pk, **body}, format="json")
        assert archived.status_code == 409
        assert "archived" in archived.json()["detail"]
    # a version serving as a canary cannot be archived or deleted
    owner.post(f"{URL}/canary/", {"version": v2.pk, "percent": 10}, format="json")
    with pytest.raises(services.Conflict, match="canary"):
        services.version_archive(actor=personas["owner"], version=v2)
    with pytest.raises(services.Conflict, match="has deployments"):
        services.version_delete(actor=personas["owner"], version=v2)
    # an undeployed deployment
    owner.post(f"{URL}/undeploy/")
    gone = owner.post(f"{URL}/swap/", {"version": v2.pk}, format="json")
    assert (gone.status_code, gone.json()["code"]) == (409, "conflict")
    assert Deployment.objects.get(name=NAME).model_version_id == v1.pk


def test_a_version_of_another_model_is_a_400(
    personas: dict[str, Any], versions: list[ModelVersion], api_as: Any
) -> None:
    # the owner's second model (another target), visible to the owner
    v1 = versions[0]
    other = ModelVersion.objects.get(pk=versions[1].pk)
    other.model.pk = None
    other.model.name = "another"
    other.model.save()
    ModelVersion.objects.filter(pk=other.pk).update(model=other.model)
    answer = api_as("owner").post(f"{URL}/swap/", {"version": other.pk}, format="json")
    assert answer.status_code == 400
    assert "is not a version of" in answer.json()["detail"]
    assert Deployment.objects.get(name=NAME).model_version_id == v1.pk


def test_a_deployment_following_an_alias_is_refused_with_the_way_out(
    personas: dict[str, Any], versions: list[ModelVersion], api_as: Any
) -> None:
    v1, v2, _ = versions
    alias = services.alias_move(actor=personas["owner"], model=v1.model, name="prod", version=v1)
    services.deployment_create(owner=personas["owner"], alias=alias, name="prod")
    owner = api_as("owner")
    for url, body in (
        ("/api/v1/deployments/prod/swap/", {"version": v2.pk}),
        ("/api/v1/deployments/prod/canary/", {"version": v2.pk, "percent": 10}),
    ):
        answer = owner.post(url, body, format="json")
        assert answer.status_code == 409
        assert "follows the alias" in answer.json()["detail"]
        assert "move the alias instead" in answer.json()["detail"]


@pytest.mark.parametrize("role", ["viewer", "editor", "admin", None])
def test_teammates_change_rollouts_per_role(
    role: str | None, versions: list[ModelVersion], share: Callable[..., Any], api_as: Any
) -> None:
    v1, v2, v3 = versions
    share(v1, role)
    api = api_as("teammate")
    calls = [
        lambda: api.post(f"{URL}/swap/", {"version": v2.pk}, format="json"),
        lambda: api.post(f"{URL}/canary/", {"version": v3.pk, "percent": 20}, format="json"),
        lambda: api.post(f"{URL}/promote/"),
        lambda: api.post(f"{URL}/canary/", {"version": v2.pk, "percent": 20}, format="json"),
        lambda: api.post(f"{URL}/rollback/"),
    ]
    codes = [call().status_code for call in calls]
    if role is None:
        assert codes == [404] * 5
    elif role == "viewer":
        assert codes == [403] * 5
    else:
        assert codes == [200] * 5
        assert Deployment.objects.get(name=NAME).model_version_id == v3.pk
        assert {a for a, who, *_ in _trail()[1:]} >= {"swapped", "canary_promoted"}
        assert {who for _, who, *_ in _trail()[1:]} == {"teammate"}
    if role in (None, "viewer"):
        assert Deployment.objects.get(name=NAME).model_version_id == v1.pk


def test_outsiders_and_anonymous_see_nothing(versions: list[ModelVersion], api_as: Any) -> None:
    v2 = versions[1]
    assert api_as("outsider").post(f"{URL}/swap/", {"version": v2.pk}).status_code == 404
    assert api_as("outsider").delete(f"{URL}/canary/").status_code == 404
    assert api_as(None).post(f"{URL}/promote/").status_code in (401, 403)


# --- the predictor ---------------------------------------------------------------------------


def _rows(frame: pd.DataFrame, n: int) -> list[dict[str, Any]]:
    return frame.drop(columns="diagnosis").iloc[:n].to_dict("records")


def _answered_by(client: Any, body: Any, n: int) -> Counter[int]:
    answers = client.post_together(PREDICT, [body] * n)
    assert {a.status_code for a in answers} == {200}
    for a in answers:
        assert int(a.headers["X-Model-Version"]) == a.json()["model_version"]
    return Counter(int(a.headers["X-Model-Version"]) for a in answers)


def test_the_predictor_splits_requests_then_promotes_or_rolls_back(
    personas: dict[str, Any], versions: list[ModelVersion], cancer_frame: Any
) -> None:
    owner = personas["owner"]
    deployment = Deployment.objects.get(name=NAME)
    v2 = versions[1]
    services.deployment_canary_set(actor=owner, deployment=deployment, version=v2, percent=30)
    refresh()
    client = client_for(owner)
    body = {"instances": _rows(cancer_frame, 1)}
    assert client.get(f"/v1/deployments/{NAME}").json()["canary_percent"] == 30

    # 30% of 200 to the canary: within five standard deviations of 60
    n, p = 200, 0.3
    split = _answered_by(client, body, n)
    assert set(split) == {1, 2}
    assert abs(split[2] - n * p) <= 5 * math.sqrt(n * p * (1 - p)), split
    assert split[1] + split[2] == n

    # a request id routes the same way every time (a retry meets the same version)
    sticky = {
        client.post(PREDICT, body, headers={"X-Request-Id": "retry-me"}).headers["X-Model-Version"]
        for _ in range(10)
    }
    assert len(sticky) == 1

    # the Open Inference Protocol answers name the version too, and a named one answers
    infer = {"inputs": [
        {"name": k, "shape": [1], "datatype": "BYTES", "data": [v]}
        if isinstance(v, str)
        else {"name": k, "shape": [1, 1], "datatype": "FP32", "data": [float(v)]}
        for k, v in body["instances"][0].items()
    ]}  # fmt: skip
    answer = client.post(f"/v2/models/{NAME}/infer", infer)
    assert answer.status_code == 200, answer.text
    assert answer.json()["model_version"] == answer.headers["X-Model-Version"]
    for number in ("1", "2"):
        named = client.post(f"/v2/models/{NAME}/versions/{number}/infer", infer)
        assert named.json()["model_version"] == number
    assert client.post(f"/v2/models/{NAME}/versions/3/infer", infer).status_code == 404
    assert client.get(f"/v2/models/{NAME}").json()["versions"] == ["1", "2"]

    # rolled back: only the main version answers, and the canary is unloaded
    services.deployment_canary_rollback(actor=owner, deployment=deployment)
    refresh()
    assert _answered_by(client, body, 40) == {1: 40}
    assert deployment.pk not in state.host.canary

    # promoted: only the former canary answers
    services.deployment_canary_set(actor=owner, deployment=deployment, version=v2, percent=50)
    refresh()
    assert set(_answered_by(client, body, 40)) == {1, 2}
    services.deployment_canary_promote(actor=owner, deployment=deployment)
    refresh()
    assert _answered_by(client, body, 40) == {2: 40}
    assert state.host.active[deployment.pk].version_id == v2.pk
    assert deployment.pk not in state.host.canary
