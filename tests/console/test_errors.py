"""One error body for every API error: {"code", "detail", "fields"}."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from console import errors
from tests.factories import make_dataset

pytestmark = pytest.mark.django_db


def _assert_shaped(body: Any) -> None:
    assert set(body) >= {"code", "detail", "fields"}, body
    assert isinstance(body["code"], str)
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert isinstance(body["fields"], dict)


def test_validation_errors_name_their_fields(api_as: Any) -> None:
    answer = api_as("owner").post("/api/v1/jobs/", {}, format="json")
    assert answer.status_code == 400
    body = answer.json()
    _assert_shaped(body)
    assert body["code"] == "invalid"
    assert body["fields"]["dataset"] == ["This field is required."]
    assert "dataset: This field is required." in body["detail"]


def test_raised_and_returned_errors_share_the_format(api_as: Any, personas: Any) -> None:
    owner = api_as("owner")
    dataset = make_dataset(personas["owner"])
    cases = [
        (api_as(None).get("/api/v1/jobs/"), {401, 403}, {"not_authenticated"}),
        (owner.get("/api/v1/jobs/999/"), {404}, {"not_found"}),
        (owner.put("/api/v1/jobs/"), {405}, {"method_not_allowed"}),
        (owner.get(f"/api/v1/datasets/{dataset.pk}/rows/?offset=x"), {400}, {"invalid"}),
        (
            owner.post("/api/v1/jobs/", "{", content_type="application/json"),
            {400},
            {"parse_error"},
        ),
        # A view's own answer (not raised): shaped by the middleware.
        (
            owner.post("/api/v1/jobs/", {"dataset": 999, "target": "x"}, format="json"),
            {400},
            {"invalid"},
        ),
    ]
    for answer, statuses, codes in cases:
        assert answer.status_code in statuses, answer.content
        _assert_shaped(answer.json())
        assert answer.json()["code"] in codes, answer.json()


def test_a_conflict_is_a_conflict(api_as: Any, personas: Any) -> None:
    dataset = make_dataset(personas["owner"])
    owner = api_as("owner")
    owner.post("/api/v1/jobs/", {"dataset": dataset.pk, "target": "diagnosis"}, format="json")
    answer = owner.delete(f"/api/v1/datasets/{dataset.pk}/")
    assert answer.status_code == 409
    assert answer.json()["code"] == "conflict"
    assert "used by 1 training job" in answer.json()["detail"]


def test_csrf_refusals_are_shaped(personas: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas["owner"])
    answer = client.post("/api/v1/jobs/", {"dataset": 1})
    assert answer.status_code == 403
    _assert_shaped(answer.json())
    assert "CSRF" in answer.json()["detail"]


def test_shape_keeps_context_and_reads_lists() -> None:
    assert errors.shape(400, {"detail": "Bad value", "field": "age"}) == {
        "code": "invalid",
        "detail": "Bad value",
        "field": "age",
        "fields": {},
    }
    assert errors.shape(400, ["a", "b"])["fields"] == {"non_field_errors": ["a", "b"]}
    conflict = errors.shape(409, {"detail": "Taken.", "existing": {"name": "v1"}})
    assert conflict["existing"] == {"name": "v1"}
    assert conflict["fields"] == {}
    nested = errors.shape(400, {"relabel": {"x": ["Too long."]}})
    assert nested["fields"] == {"relabel": ["x: Too long."]}
    assert errors.shape(502, {"detail": "down"})["code"] == "bad_gateway"


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/api/v1/jobs/987654/", "training job"),
        ("/api/v1/datasets/987654/", "dataset"),
        ("/api/v1/model-versions/987654/", "model version"),
    ],
)
def test_not_found_says_what_in_words_without_the_class_name(
    api_as: Any, path: str, words: str
) -> None:
    answer = api_as("owner").get(path)
    assert answer.status_code == 404
    assert answer.json() == {
        "code": "not_found",
        "detail": f"No {words} with that id that you can see.",
        "fields": {},
    }
