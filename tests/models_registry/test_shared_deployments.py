"""Deployments of a shared model, seen by the workspace's members per their role: viewers
read them, editors (and admins) also deploy, undeploy and delete them; the outsider and a
member of another workspace see nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from models_registry import services
from models_registry.models import AuditEvent, Deployment, Membership, ModelVersion

pytestmark = pytest.mark.django_db

NAME = "cancer-diagnosis-v1"


@pytest.fixture
def deployed(personas: dict[str, Any], register: Callable[..., ModelVersion]) -> Deployment:
    version = register(personas["owner"])
    return services.deployment_create(owner=personas["owner"], model_version=version)


@pytest.mark.parametrize("role", ["viewer", "editor", "admin", None])
def test_teammates_see_shared_deployments_and_change_them_per_role(
    role: str | None, deployed: Deployment, share: Callable[..., Any], api_as: Any
) -> None:
    share(deployed.model_version, role)
    api = api_as("teammate")
    listed = api.get("/api/v1/deployments/").json()["results"]
    detail = api.get(f"/api/v1/deployments/{NAME}/")
    if role is None:
        assert listed == []
        assert detail.status_code == 404
        assert api.post(f"/api/v1/deployments/{NAME}/undeploy/").status_code == 404
        return
    assert [(d["name"], d["owner"]) for d in listed] == [(NAME, "owner")]
    assert detail.status_code == 200
    assert detail.json()["owner"] == "owner"
    by_version = api.get(f"/api/v1/deployments/?model_version={deployed.model_version_id}")
    assert len(by_version.json()["results"]) == 1

    undeploy = api.post(f"/api/v1/deployments/{NAME}/undeploy/")
    delete = api.delete(f"/api/v1/deployments/{NAME}/")
    if role == "viewer":
        assert (undeploy.status_code, delete.status_code) == (403, 403)
        assert "(viewer) does not allow you to undeploy" in undeploy.json()["detail"]
        assert Deployment.objects.get(pk=deployed.pk).status == Deployment.Status.PENDING
        return
    assert undeploy.status_code == 200
    assert undeploy.json()["status"] == Deployment.Status.UNDEPLOYED
    assert delete.status_code == 204
    assert not Deployment.objects.filter(pk=deployed.pk).exists()
    trail = AuditEvent.objects.filter(subject=NAME).order_by("pk")
    assert [(e.action, e.actor_name) for e in trail] == [
        ("deployed", "owner"),
        ("undeployed", "teammate"),
        ("deployment_deleted", "teammate"),
    ]


@pytest.mark.parametrize("who", ["outsider", None])
def test_others_see_no_deployment(
    who: str | None, deployed: Deployment, share: Callable[..., Any], api_as: Any
) -> None:
    share(deployed.model_version, "editor")
    api = api_as(who)
    listed = api.get("/api/v1/deployments/")
    if who is None:
        assert listed.status_code in (401, 403)
        return
    assert listed.json()["results"] == []
    for call in (
        api.get(f"/api/v1/deployments/{NAME}/"),
        api.post(f"/api/v1/deployments/{NAME}/undeploy/"),
        api.delete(f"/api/v1/deployments/{NAME}/"),
    ):
        assert call.status_code == 404


def test_an_editors_deployment_is_listed_to_the_owner_as_the_editors(
    deployed: Deployment, share: Callable[..., Any], api_as: Any
) -> None:
    share(deployed.model_version, "editor")
    version = deployed.model_version_id
    answer = api_as("teammate").post(
        f"/api/v1/model-versions/{version}/deploy/", {"name": "team-copy"}, format="json"
    )
    assert answer.status_code == 201, answer.content
    listed = api_as("owner").get("/api/v1/deployments/").json()["results"]
    assert sorted((d["name"], d["owner"]) for d in listed) == [
        (NAME, "owner"),
        ("team-copy", "teammate"),
    ]
    # the owner (all rights) may undeploy the editor's deployment
    assert api_as("owner").post("/api/v1/deployments/team-copy/undeploy/").status_code == 200
    # (a teammate predicts on it too: tests/models_registry/test_teammate_predictions.py)


def test_a_name_used_by_several_deployers_is_picked_by_owner(
    personas: dict[str, Any], deployed: Deployment, share: Callable[..., Any], api_as: Any
) -> None:
    workspace = share(deployed.model_version, "editor")
    Membership.objects.create(
        workspace=workspace, user=personas["outsider"], role=Membership.Role.EDITOR
    )
    version = deployed.model_version
    for who in ("teammate", "outsider"):
        services.deployment_create(owner=personas[who], model_version=version, name="shared")
    # your own comes first
    mine = api_as("teammate").get("/api/v1/deployments/shared/")
    assert (mine.status_code, mine.json()["owner"]) == (200, "teammate")
    # among teammates', the owner's username picks
    ambiguous = api_as("owner").get("/api/v1/deployments/shared/")
    assert ambiguous.status_code == 409
    assert ambiguous.json()["owners"] == ["outsider", "teammate"]
    picked = api_as("owner").get("/api/v1/deployments/shared/?owner=outsider")
    assert (picked.status_code, picked.json()["owner"]) == (200, "outsider")
    assert api_as("owner").get("/api/v1/deployments/shared/?owner=nobody").status_code == 404
