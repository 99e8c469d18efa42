"""Aliases, deployments that follow them, archival, cards, comparison, and the audit trail."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from models_registry import selectors
from models_registry.models import AuditEvent, Deployment, ModelVersion, RecordChangeRefused
from models_registry.predictor.app import predictor
from models_registry.predictor.hosting import load_version
from tests.models_registry.predictor_client import refresh

pytestmark = pytest.mark.django_db

Register = Callable[..., ModelVersion]


@pytest.fixture
def two(personas: dict[str, Any], register: Register) -> tuple[ModelVersion, ModelVersion]:
    owner = personas["owner"]
    first = register(owner, metrics={"accuracy": 0.9, "roc_auc": 0.95})
    second = register(
        owner, metrics={"accuracy": 0.93, "roc_auc": 0.96}, hyperparameters={"units": 64}
    )
    return first, second


def _trail(**filters: Any) -> list[tuple[str, str, str, str, str]]:
    return [
        (e.action, e.actor_name, e.subject, e.from_value, e.to_value)
        # The registry's events: the dataset and jobs these tests make record some too.
        for e in AuditEvent.objects.exclude(subject_type__in=selectors.JOBS_SUBJECTS)
        .filter(**filters)
        .order_by("id")
    ]


def test_a_version_records_who_made_it_its_file_size_and_signatures(
    two: tuple[ModelVersion, ModelVersion], api_as: Any
) -> None:
    version = two[0]
    assert version.created_by is not None
    assert version.created_by.username == "owner"
    assert version.artifact_size == version.artifact.size > 0
    body = api_as("owner").get(f"/api/v1/model-versions/{version.pk}/").json()
    assert body["created_by"] == "owner"
    assert body["output_signature"] == {
        "target": "diagnosis",
        "task_type": "binary",
        "classes": ["benign", "malignant"],
    }
    inputs = {i["name"]: i for i in body["input_signature"]["inputs"]}
    assert inputs["clinic"]["values"] == ["east", "north", "south"]
    low, high = inputs["mean_radius"]["range"]
    assert low < high
    example = body["input_signature"]["example"]
    assert example["clinic"] == "east"
    assert low <= example["mean_radius"] <= high


def test_recorded_fields_cannot_be_saved_again(two: tuple[ModelVersion, ModelVersion]) -> None:
    version = two[0]
    version.metrics = {"accuracy": 1.0}
    with pytest.raises(RecordChangeRefused):
        version.save()
    with pytest.raises(RecordChangeRefused):
        version.save(update_fields=["metrics"])
    version.refresh_from_db()
    assert version.metrics["accuracy"] == 0.9


def test_moving_an_alias_is_recorded_and_moves_the_deployment_that_follows_it(
    personas: dict[str, Any], two: tuple[ModelVersion, ModelVersion], api_as: Any
) -> None:
    first, second = two
    model = first.model
    owner = api_as("owner")
    url = f"/api/v1/models/{model.pk}/aliases/production/"

    # given production on v1, deployed by following the alias
    assert owner.put(url, {"version": first.pk}, format="json").status_code == 200
    answer = owner.post(f"{url}deploy/", {}, format="json")
    assert answer.status_code == 201, answer.content
    assert answer.json()["name"] == "cancer-diagnosis-production"
    assert answer.json()["alias"] == "production"
    refresh()

    # when the alias moves to v2
    moved = owner.put(url, {"version": second.pk}, format="json")

    # then the deployment serves v2, and the trail says who moved what from where to where
    assert moved.json()["version"] == 2
    deployment = Deployment.objects.get()
    assert deployment.model_version == second
    assert deployment.status == Deployment.Status.READY
    assert _trail() == [
        ("alias_moved", "owner", "cancer-diagnosis@production", "", "v1"),
        ("deployed", "owner", "cancer-diagnosis-production", "", "production (1)"),
        ("alias_moved", "owner", "cancer-diagnosis@production", "v1", "v2"),
        ("redeployed", "owner", "cancer-diagnosis-production", "v1", "v2"),
    ]
    audit = owner.get(f"/api/v1/models/{model.pk}/audit/").json()["results"]
    assert [e["action"] for e in audit][:2] == ["redeployed", "alias_moved"]
    assert len(owner.get("/api/v1/registry-audit/?action=deployed").json()["results"]) == 1
    # the predictor loads what the alias now names
    refresh()
    assert predictor.host.active[deployment.pk].version == 2

    # an alias that deployments follow is not removed under them
    assert owner.delete(url).status_code == 409
    body = owner.get(f"/api/v1/models/{model.pk}/").json()
    assert body["aliases"][0]["name"] == "production"
    assert body["aliases"][0]["version"] == 2
    assert body["versions"][1]["aliases"] == []
    assert body["role"] == "owner"


def test_alias_names_are_unique_per_model_and_checked(
    two: tuple[ModelVersion, ModelVersion], api_as: Any
) -> None:
    first, second = two
    url = f"/api/v1/models/{first.model_id}/aliases/"
    owner = api_as("owner")
    assert owner.put(f"{url}staging/", {"version": first.pk}, format="json").status_code == 200
    assert owner.put(f"{url}staging/", {"version": second.pk}, format="json").status_code == 200
    assert first.model.aliases.count() == 1
    assert owner.put(f"{url}Prod_1/", {"version": first.pk}, format="json").status_code == 400
    assert owner.put(f"{url}x/", {"version": 999999}, format="json").status_code == 400
    assert owner.put(f"{url}x/", {"version": "v1"}, format="json").status_code == 400
    assert owner.delete(f"{url}nope/").status_code == 404
    assert owner.delete(f"{url}staging/").status_code == 204
    assert _trail(action="alias_deleted")[0][3] == "v2"


def test_deploying_twice_answers_409_with_the_existing_deployment(
    two: tuple[ModelVersion, ModelVersion], api_as: Any
) -> None:
    first = two[0]
    url = f"/api/v1/model-versions/{first.pk}/deploy/"
    owner = api_as("owner")
    created = owner.post(url, {}, format="json")
    assert created.status_code == 201
    again = owner.post(url, {}, format="json")
    assert again.status_code == 409
    assert again.json()["existing"]["name"] == "cancer-diagnosis-v1"
    assert owner.post(url, {"name": "canary"}, format="json").status_code == 201
    assert Deployment.objects.count() == 2


def test_undeploy_and_delete_a_deployment(
    two: tuple[ModelVersion, ModelVersion], api_as: Any
) -> None:
    first = two[0]
    owner = api_as("owner")
    owner.post(f"/api/v1/model-versions/{first.pk}/deploy/", {"name": "live"}, format="json")
    refresh()

    undone = owner.post("/api/v1/deployments/live/undeploy/")
    assert undone.status_code == 200
    assert undone.json()["status"] == "UNDEPLOYED"
    # the predictor no longer serves it, and deploying the version again is allowed
    refresh()
    assert Deployment.objects.get(name="live").status == Deployment.Status.UNDEPLOYED
    assert Deployment.objects.get(name="live").pk not in predictor.host.active
    assert owner.post(f"/api/v1/model-versions/{first.pk}/deploy/", {}).status_code == 201

    assert owner.delete("/api/v1/deployments/live/").status_code == 204
    assert owner.get("/api/v1/deployments/live/").status_code == 404
    assert [t[0] for t in _trail()] == ["deployed", "undeployed", "deployed", "deployment_deleted"]
    assert _trail(action="undeployed")[0][3:] == ("READY", "UNDEPLOYED")


def test_archived_versions_are_neither_deployed_nor_aliased(
    two: tuple[ModelVersion, ModelVersion], api_as: Any
) -> None:
    first, second = two
    owner = api_as("owner")
    owner.put(
        f"/api/v1/models/{first.model_id}/aliases/production/",
        {"version": second.pk},
        format="json",
    )
    assert owner.post(f"/api/v1/model-versions/{second.pk}/archive/").status_code == 409

    archived = owner.post(f"/api/v1/model-versions/{first.pk}/archive/", {"archived": True})
    assert archived.status_code == 200
    assert archived.json()["archived_at"] is not None
    assert owner.post(f"/api/v1/model-versions/{first.pk}/deploy/", {}).status_code == 409
    moved = owner.put(
        f"/api/v1/models/{first.model_id}/aliases/production/", {"version": first.pk}, format="json"
    )
    assert moved.status_code == 409
    restored = owner.post(
        f"/api/v1/model-versions/{first.pk}/archive/", {"archived": False}, format="json"
    )
    assert restored.json()["archived_at"] is None
    assert [t[0] for t in _trail(action__startswith="version_")] == [
        "version_archived",
        "version_restored",
    ]


def test_deleting_a_version_removes_its_file_and_is_recorded(
    two: tuple[ModelVersion, ModelVersion], api_as: Any, django_capture_on_commit_callbacks: Any
) -> None:
    first = two[0]
    storage, name = first.artifact.storage, first.artifact.name
    owner = api_as("owner")
    owner.post(f"/api/v1/model-versions/{first.pk}/deploy/", {"name": "live"})
    assert owner.delete(f"/api/v1/model-versions/{first.pk}/").status_code == 409
    owner.delete("/api/v1/deployments/live/")
    with django_capture_on_commit_callbacks(execute=True):
        assert owner.delete(f"/api/v1/model-versions/{first.pk}/").status_code == 204
    assert not storage.exists(name)
    assert not ModelVersion.objects.filter(pk=first.pk).exists()
    assert _trail(action="version_deleted")[0][2] == "cancer-diagnosis v1"


def test_the_model_card_is_generated_and_editable(
    two: tuple[ModelVersion, ModelVersion], api_as: Any
) -> None:
    first = two[0]
    owner = api_as("owner")
    url = f"/api/v1/model-versions/{first.pk}/card/"
    card = owner.get(url).json()
    assert card["edited"] is False
    text = card["markdown"]
    assert text.startswith("# cancer-diagnosis v1")
    for part in ("## Task", "## Data", "accuracy: 0.9000", "## Intended use", "## Limitations"):
        assert part in text
    edited = owner.put(url, {"markdown": text + "\nReviewed by the clinic.\n"}, format="json")
    assert edited.json() == {"markdown": text + "\nReviewed by the clinic.\n", "edited": True}
    assert owner.get(url).json()["edited"] is True
    assert owner.put(url, {"markdown": "x" * 100_001}, format="json").status_code == 400
    assert owner.put(url, {"markdown": ""}, format="json").json()["edited"] is False
    assert [t[0] for t in _trail()] == ["card_edited", "card_edited"]


def test_the_card_names_class_imbalance_seen_in_training(
    personas: dict[str, Any], register: Register
) -> None:
    from models_registry import reports

    version = register(personas["owner"])
    version.dataset.profile["columns"] = [
        {
            "name": "diagnosis",
            "top": [{"value": "benign", "count": 90}, {"value": "x", "count": 10}],
        }
    ]
    assert "Class imbalance in training: benign: 90, x: 10" in reports.card_generate(version)


def test_compare_two_versions(two: tuple[ModelVersion, ModelVersion], api_as: Any) -> None:
    first, second = two
    owner = api_as("owner")
    body = owner.get(f"/api/v1/model-versions/compare/?a={first.pk}&b={second.pk}").json()
    metrics = {row["name"]: row for row in body["metrics"]}
    assert metrics["accuracy"]["a"] == 0.9
    assert metrics["accuracy"]["delta"] == pytest.approx(0.03)
    hps = {row["name"]: row for row in body["hyperparameters"]}
    assert hps["units"] == {"name": "units", "a": 32, "b": 64, "same": False, "delta": 32}
    assert hps["dropout"]["b"] is None
    assert body["signature"]["inputs_only_in_a"] == []
    assert body["signature"]["classes"]["same"] is True
    assert owner.get("/api/v1/model-versions/compare/?a=1").status_code == 400
    assert owner.get(f"/api/v1/model-versions/compare/?a={first.pk}&b=0").status_code == 404


def test_description_and_tags_are_edited_and_recorded(
    two: tuple[ModelVersion, ModelVersion], api_as: Any
) -> None:
    model_id = two[0].model_id
    owner = api_as("owner")
    answer = owner.patch(
        f"/api/v1/models/{model_id}/",
        {"description": "Screens biopsies.", "tags": ["clinic", " clinic", "tabular"]},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["description"] == "Screens biopsies."
    assert answer.json()["tags"] == ["clinic", "tabular"]
    assert {t[2] for t in _trail(action="model_edited")} == {
        "cancer-diagnosis.description",
        "cancer-diagnosis.tags",
    }
    assert (
        owner.patch(f"/api/v1/models/{model_id}/", {"tags": "x"}, format="json").status_code == 400
    )


def test_a_version_reloaded_reproduces_its_recorded_test_metrics(
    personas: dict[str, Any], searched: Any, register: Register, cancer_frame: Any
) -> None:
    from jobs.engine import model as engine_model
    from jobs.engine.config import SearchConfig
    from jobs.engine.split import split_by_target

    # given a version registered with the search's own test metrics and manifest
    result = searched[0]
    version = register(personas["owner"], metrics=result.test_metrics, manifest=result.manifest)

    # when the registry loads it back (sha256 checked, safe mode) and predicts the test split
    loaded = load_version(version).model
    split = version.manifest["split"]
    config = SearchConfig(
        target=version.target,
        task_type="binary",
        seed=version.manifest["seed"],
        test_fraction=split["test_fraction"],
        validation_fraction=split["validation_fraction"],
    )
    test = split_by_target(cancer_frame, config)[2]
    predictions = engine_model.predict(loaded, test.drop(columns=version.target).to_dict("records"))

    # then it scores what was recorded
    labels = [p["label"] for p in predictions]
    accuracy = sum(a == b for a, b in zip(labels, test[version.target], strict=True)) / len(test)
    assert accuracy == pytest.approx(version.metrics["accuracy"], abs=1e-9)
