"""Every registry endpoint with the personas: the owner, a teammate with each workspace role
(or none), an outsider, and nobody signed in. Viewers read; editors also move aliases, deploy,
archive and edit; admins (and the owner) also delete."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from models_registry.models import Deployment, ModelVersion

pytestmark = pytest.mark.django_db

READ = "read"
EDIT = "edit"
MANAGE = "manage"


def _endpoints(v: ModelVersion, other: ModelVersion) -> list[tuple[str, str, str, Any]]:
    m = v.model_id
    return [
        (READ, "get", f"/api/v1/models/{m}/", None),
        (READ, "get", f"/api/v1/models/{m}/audit/", None),
        (READ, "get", f"/api/v1/models/{m}/aliases/", None),
        (READ, "get", f"/api/v1/model-versions/{v.pk}/", None),
        (READ, "get", f"/api/v1/model-versions/{v.pk}/card/", None),
        (READ, "get", f"/api/v1/model-versions/{v.pk}/artifact/", None),
        (READ, "get", f"/api/v1/model-versions/compare/?a={v.pk}&b={other.pk}", None),
        (EDIT, "patch", f"/api/v1/models/{m}/", {"description": "new"}),
        (EDIT, "put", f"/api/v1/models/{m}/aliases/staging/", {"version": v.pk}),
        (EDIT, "post", f"/api/v1/models/{m}/aliases/production/deploy/", {"name": "prod-x"}),
        (EDIT, "post", f"/api/v1/model-versions/{v.pk}/deploy/", {"name": "dep-x"}),
        (EDIT, "put", f"/api/v1/model-versions/{v.pk}/card/", {"markdown": "# card"}),
        (EDIT, "delete", f"/api/v1/models/{m}/aliases/staging/", None),
        (EDIT, "post", f"/api/v1/model-versions/{other.pk}/archive/", {"archived": True}),
        (MANAGE, "delete", f"/api/v1/model-versions/{other.pk}/", None),
    ]


ALLOWED = {
    "owner": {READ, EDIT, MANAGE},
    "viewer": {READ},
    "editor": {READ, EDIT},
    "admin": {READ, EDIT, MANAGE},
    "member-of-nothing": set(),
    "outsider": set(),
}


@pytest.mark.parametrize("who", list(ALLOWED))
def test_every_registry_endpoint_by_persona_and_role(
    who: str,
    personas: dict[str, Any],
    register: Callable[..., ModelVersion],
    share: Callable[..., Any],
    api_as: Any,
) -> None:
    owner = personas["owner"]
    version, other = register(owner), register(owner)
    role = who if who in ("viewer", "editor", "admin") else None
    share(version, role)
    for alias in ("production", "staging"):
        api_as("owner").put(
            f"/api/v1/models/{version.model_id}/aliases/{alias}/",
            {"version": version.pk},
            format="json",
        )
    persona = {"owner": "owner", "outsider": "outsider"}.get(who, "teammate")
    client = api_as(persona)
    anonymous = api_as(None)

    for right, method, url, body in _endpoints(version, other):
        answer = getattr(client, method)(url, body, format="json")
        if right in ALLOWED[who]:
            assert answer.status_code in (200, 201, 204), (who, method, url, answer.content)
        elif READ in ALLOWED[who]:
            # a member who reads the model is told why; the change did not happen
            assert answer.status_code == 403, (who, method, url, answer.status_code)
            assert "does not allow" in answer.json()["detail"]
        else:
            # someone who cannot read it is not even told it exists
            assert answer.status_code == 404, (who, method, url, answer.status_code)
        assert getattr(anonymous, method)(url, body, format="json").status_code in (401, 403)

    listed = client.get("/api/v1/models/").json()["results"]
    assert [m["id"] for m in listed] == ([version.model_id] if ALLOWED[who] else [])
    versions = client.get("/api/v1/model-versions/").json()["results"]
    assert len(versions) == (2 - (MANAGE in ALLOWED[who]) if ALLOWED[who] else 0)
    trail = client.get("/api/v1/registry-audit/").json()["results"]
    assert bool(trail) == bool(ALLOWED[who])
    if EDIT in ALLOWED[who]:
        # a teammate's deployment is the teammate's, and the trail names who made it
        assert Deployment.objects.filter(owner=personas[persona], name="dep-x").exists()
        assert any(e["actor"] == persona and e["action"] == "deployed" for e in trail)


def test_only_the_owner_shares_a_model_and_only_with_a_workspace_of_theirs(
    personas: dict[str, Any],
    register: Callable[..., ModelVersion],
    share: Callable[..., Any],
    api_as: Any,
) -> None:
    version = register(personas["owner"])
    workspace = share(version, "admin")
    url = f"/api/v1/models/{version.model_id}/"
    assert api_as("teammate").patch(url, {"workspace": None}, format="json").status_code == 403
    from models_registry.models import Workspace

    theirs = Workspace.objects.create(name="elsewhere")
    assert api_as("owner").patch(url, {"workspace": theirs.pk}, format="json").status_code == 403
    assert api_as("owner").patch(url, {"workspace": 999999}, format="json").status_code == 400
    answer = api_as("owner").patch(url, {"workspace": None}, format="json")
    assert answer.json()["workspace"] is None
    assert api_as("teammate").get(url).status_code == 404
    assert api_as("owner").patch(url, {"workspace": workspace.pk}, format="json").status_code == 200
    assert api_as("teammate").get(url).json()["role"] == "admin"
