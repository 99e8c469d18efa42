"""The registry's admin: recorded fields are not a form, the artifact link downloads for its
owner only, and the actions go through the services (roles checked, trail written)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.test import Client, RequestFactory

from models_registry import selectors
from models_registry.models import (
    Alias,
    AuditEvent,
    Deployment,
    ModelVersion,
    RegisteredModel,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(personas: dict[str, Any]) -> Callable[[str], Client]:
    """A signed-in admin client for a persona who is staff with every admin permission."""

    def client(name: str) -> Client:
        User.objects.filter(pk=personas[name].pk).update(is_staff=True, is_superuser=True)
        signed_in = Client()
        signed_in.force_login(personas[name])
        return signed_in

    return client


@pytest.fixture
def version(personas: dict[str, Any], register: Callable[..., ModelVersion]) -> ModelVersion:
    return register(personas["owner"], metrics={"accuracy": 0.91, "roc_auc": 0.97})


def _change_url(version: ModelVersion) -> str:
    return f"/admin/models_registry/modelversion/{version.pk}/change/"


def test_no_admin_form_can_change_a_versions_recorded_fields(
    personas: dict[str, Any], version: ModelVersion, staff: Callable[[str], Client]
) -> None:
    request = RequestFactory().get("/")
    request.user = personas["owner"]
    recorded = set(ModelVersion.RECORDED_FIELDS)
    # the version's own admin offers the card and nothing else as a form field
    version_admin = admin.site._registry[ModelVersion]
    assert set(version_admin.get_form(request, version).base_fields) == {"model_card"}
    # and no inline of any admin holds a version's recorded field
    for model_admin in admin.site._registry.values():
        for inline in model_admin.get_inline_instances(request):
            if inline.model is ModelVersion:
                formset = inline.get_formset(request)
                assert not set(formset.form.base_fields) & recorded, inline
    # a deployment's version is not a form field either: re-pointing it is moving its alias
    deployment_admin = admin.site._registry[Deployment]
    assert "model_version" not in deployment_admin.get_form(request).base_fields

    # a forged POST of every recorded field changes only the card, and the trail says so
    before = {f: getattr(version, f) for f in ("version", "target", "metrics", "classes")}
    forged = {
        "model": "",
        "version": 99,
        "target": "other",
        "metrics": '{"accuracy": 1.0}',
        "classes": '["a"]',
        "artifact_sha256": "0" * 64,
        "model_card": "# Reviewed",
    }
    answer = staff("owner").post(_change_url(version), forged)
    assert answer.status_code == 302, answer.content[:2000]
    version.refresh_from_db()
    assert {f: getattr(version, f) for f in before} == before
    assert version.model_card == "# Reviewed"
    assert registry_events().get().action == "card_edited"


def test_the_admin_artifact_link_downloads_for_its_owner_and_no_one_else(
    version: ModelVersion, staff: Callable[[str], Client], personas: dict[str, Any]
) -> None:
    owner = staff("owner")
    page = owner.get(_change_url(version)).content.decode()
    link = f"/admin/models_registry/modelversion/{version.pk}/artifact/"
    assert f'href="{link}"' in page
    assert "/media/" not in page

    answer = owner.get(link)
    assert answer.status_code == 200
    with version.artifact.open("rb") as fileobj:
        assert answer.getvalue() == fileobj.read()
    assert "cancer-diagnosis-v1.keras" in answer["Content-Disposition"]

    # another superuser, a plain signed-in user, and nobody: no file
    assert staff("outsider").get(link).status_code == 404
    plain = Client()
    plain.force_login(personas["teammate"])
    assert plain.get(link).status_code == 302
    assert Client().get(link).status_code == 302


def test_list_pages_filter_search_and_show_metrics(
    version: ModelVersion, staff: Callable[[str], Client], api_as: Any
) -> None:
    api_as("owner").put(
        f"/api/v1/models/{version.model_id}/aliases/production/",
        {"version": version.pk},
        format="json",
    )
    client = staff("owner")
    versions = client.get(
        "/admin/models_registry/modelversion/?alias=production&task_type__exact=binary&q=cancer"
    ).content.decode()
    assert "0.9100" in versions  # accuracy column
    assert "0.9700" in versions  # roc auc column
    assert "production" in versions
    empty = client.get("/admin/models_registry/modelversion/?alias=staging").content.decode()
    assert "0 model versions" in empty or "0 results" in empty
    models = client.get("/admin/models_registry/registeredmodel/?alias=__any__&q=cancer")
    assert "production→v1" in models.content.decode()
    detail = client.get(f"/admin/models_registry/registeredmodel/{version.model_id}/change/")
    assert detail.status_code == 200
    change = client.get(_change_url(version)).content.decode()
    assert "mean_radius" in change  # a readable signature
    assert "seen in training" in change
    assert "dataset_sha256" in change or "{}" in change  # manifest shown
    for page in ("deployment", "auditevent", "workspace", "alias"):
        assert client.get(f"/admin/models_registry/{page}/").status_code in (200, 404)


def test_admin_actions_go_through_the_services(
    personas: dict[str, Any],
    version: ModelVersion,
    register: Callable[..., ModelVersion],
    staff: Callable[[str], Client],
    django_capture_on_commit_callbacks: Any,
) -> None:
    second = register(personas["owner"])
    url = "/admin/models_registry/modelversion/"
    client = staff("owner")

    def act(action: str, *versions: ModelVersion, **extra: str) -> str:
        form = {"action": action, "_selected_action": [v.pk for v in versions], **extra}
        return client.post(url, form, follow=True).content.decode()

    assert "now points at v1" in act("move_alias", version, alias="production")
    assert "now points at v2" in act("move_alias", second, alias="production")
    assert Alias.objects.get().version == second
    assert "Select one version per model" in act("move_alias", version, second, alias="x")
    assert "Deploying" in act("deploy", version)
    assert "already serves this" in act("deploy", version)
    assert "Undeployed cancer-diagnosis-v1" in act("undeploy", version)
    assert "is aliased" in act("archive", second)
    assert "Archived" in act("archive", version)
    assert "Restored" in act("restore", version)
    assert "has deployments" in act("delete_versions", version)
    Deployment.objects.all().delete()
    storage, name = version.artifact.storage, version.artifact.name
    with django_capture_on_commit_callbacks(execute=True):
        assert "Deleted cancer-diagnosis v1 and its file" in act("delete_versions", version)
    assert not storage.exists(name)
    actions = list(registry_events().order_by("id").values_list("action", "actor_name"))
    assert [a for a, _ in actions] == [
        "alias_moved",
        "alias_moved",
        "deployed",
        "undeployed",
        "version_archived",
        "version_restored",
        "version_deleted",
    ]
    assert {who for _, who in actions} == {"owner"}

    # a superuser who is not the owner is refused by the same checks
    other = staff("outsider")
    answer = other.post(
        url, {"action": "move_alias", "_selected_action": [second.pk], "alias": "x"}, follow=True
    )
    assert "does not allow you to move aliases" in answer.content.decode()
    assert not Alias.objects.filter(name="x").exists()


def test_the_audit_trail_is_read_only_in_the_admin(
    version: ModelVersion, staff: Callable[[str], Client], api_as: Any
) -> None:
    api_as("owner").post(f"/api/v1/model-versions/{version.pk}/deploy/", {}, format="json")
    event = registry_events().get()
    client = staff("owner")
    assert "deployed" in client.get("/admin/models_registry/auditevent/").content.decode()
    client.post(f"/admin/models_registry/auditevent/{event.pk}/change/", {"subject": "x"})
    client.post(f"/admin/models_registry/auditevent/{event.pk}/delete/", {"post": "yes"})
    assert registry_events().get().subject == event.subject
    assert client.get("/admin/models_registry/auditevent/add/").status_code == 403
    assert RegisteredModel.objects.count() == 1


def test_editing_a_model_in_the_admin_is_checked_and_recorded(
    version: ModelVersion, staff: Callable[[str], Client]
) -> None:
    url = f"/admin/models_registry/registeredmodel/{version.model_id}/change/"
    form = {
        "description": "Screens biopsies.",
        "tags": '["clinic"]',
        "aliases-TOTAL_FORMS": "0",
        "aliases-INITIAL_FORMS": "0",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
    }
    refused = staff("outsider").post(url, form, follow=True)
    assert b"does not allow you to edit the model" in refused.content
    assert RegisteredModel.objects.get().description == ""

    assert staff("owner").post(url, form).status_code == 302
    model = RegisteredModel.objects.get()
    assert (model.description, model.tags) == ("Screens biopsies.", ["clinic"])
    assert set(registry_events().values_list("action", flat=True)) == {"model_edited"}
    bad = staff("owner").post(url, {**form, "tags": '{"a": 1}'}, follow=True)
    assert b"Tags are a list of strings" in bad.content


def test_registry_admin_pages_by_persona(
    personas: dict[str, Any], version: ModelVersion, staff: Callable[[str], Client]
) -> None:
    pages = [
        "/admin/models_registry/registeredmodel/",
        f"/admin/models_registry/registeredmodel/{version.model_id}/change/",
        "/admin/models_registry/modelversion/",
        _change_url(version),
        f"/admin/models_registry/modelversion/{version.pk}/artifact/",
        "/admin/models_registry/deployment/",
        "/admin/models_registry/auditevent/",
        "/admin/models_registry/workspace/",
    ]
    owner, other_staff = staff("owner"), staff("outsider")
    plain = Client()
    plain.force_login(personas["teammate"])
    for url in pages:
        # staff work in the admin; the artifact is only its owner's
        assert owner.get(url).status_code == 200, url
        expected = 404 if url.endswith("/artifact/") else 200
        assert other_staff.get(url).status_code == expected, url
        # a signed-in user who is not staff, and nobody, are sent to sign in
        for client in (plain, Client()):
            answer = client.get(url)
            assert answer.status_code == 302, url
            assert "/admin/login/" in answer["Location"]


def registry_events() -> QuerySet[AuditEvent]:
    """The registry's events: making the dataset and job these tests need records some too."""
    return AuditEvent.objects.exclude(subject_type__in=selectors.JOBS_SUBJECTS)
