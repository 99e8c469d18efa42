"""Workspaces: created by anyone, their members managed by their admins only."""

from __future__ import annotations

from typing import Any

import pytest

from models_registry.models import Membership

pytestmark = pytest.mark.django_db


def test_an_admin_manages_members_and_others_cannot(personas: dict[str, Any], api_as: Any) -> None:
    owner = api_as("owner")
    created = owner.post("/api/v1/workspaces/", {"name": "clinic"}, format="json")
    assert created.status_code == 201
    ws = created.json()
    assert ws["members"] == [{"username": "owner", "role": "admin"}]
    url = f"/api/v1/workspaces/{ws['id']}/members/"

    answer = owner.post(url, {"username": "teammate", "role": "viewer"}, format="json")
    assert {"username": "teammate", "role": "viewer"} in answer.json()["members"]
    # a viewer sees the workspace but does not manage it; an outsider does not see it
    teammate = api_as("teammate")
    assert len(teammate.get("/api/v1/workspaces/").json()["results"]) == 1
    refused = teammate.post(url, {"username": "teammate", "role": "admin"}, format="json")
    assert refused.status_code == 403
    assert (
        api_as("outsider").post(url, {"username": "outsider", "role": "admin"}).status_code == 404
    )
    assert api_as("outsider").get("/api/v1/workspaces/").json()["results"] == []

    # the last admin stays; bad input is a 400 or 404
    assert owner.post(url, {"username": "owner", "role": None}, format="json").status_code == 409
    assert (
        owner.post(url, {"username": "nobody", "role": "viewer"}, format="json").status_code == 404
    )
    assert (
        owner.post(url, {"username": "teammate", "role": "boss"}, format="json").status_code == 400
    )
    assert owner.post("/api/v1/workspaces/", {"name": ""}, format="json").status_code == 400
    owner.post(url, {"username": "teammate", "role": None}, format="json")
    assert not Membership.objects.filter(user=personas["teammate"]).exists()
    assert api_as(None).get("/api/v1/workspaces/").status_code in (401, 403)
