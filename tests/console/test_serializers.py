"""The model serializers' fields, derived from the model once per class (console.serializers)."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework import serializers
from rest_framework.utils.serializer_helpers import BindingDict

from jobs.models import Trial
from jobs.serializers import DatasetListSerializer, DatasetSerializer, JobSerializer
from tests.factories import job_row


def _stock(serializer: serializers.ModelSerializer[Any]) -> serializers.ModelSerializer[Any]:
    """The serializer with the fields DRF itself derives for the instance, for comparison."""
    fields = BindingDict(serializer)
    for name, field in serializers.ModelSerializer.get_fields(serializer).items():
        fields[name] = field
    serializer.__dict__["fields"] = fields  # `fields` is a cached property
    return serializer


def test_a_second_serializer_derives_no_field_from_the_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    derived: list[str] = []
    build = serializers.ModelSerializer.build_field

    def counting(self: Any, field_name: str, *args: Any) -> Any:
        derived.append(field_name)
        return build(self, field_name, *args)

    monkeypatch.setattr(serializers.ModelSerializer, "build_field", counting)
    assert JobSerializer().fields
    derived.clear()
    assert "target" in JobSerializer().fields
    assert derived == []


def test_each_serializer_has_fields_of_its_own_bound_to_it() -> None:
    first, second = JobSerializer(), JobSerializer()
    assert list(first.fields) == list(second.fields) == JobSerializer.Meta.fields
    for name in JobSerializer.Meta.fields:
        assert first.fields[name] is not second.fields[name], name
        assert first.fields[name].parent is first
        assert second.fields[name].parent is second
    # The nested serializer, declared, is deep-copied: its child is not shared either.
    trials = first.fields["trials"]
    other = second.fields["trials"]
    assert isinstance(trials, serializers.ListSerializer)
    assert isinstance(other, serializers.ListSerializer)
    assert trials.child is not other.child
    # A change to one serializer's field stays with it.
    first.fields["target"].read_only = True
    assert JobSerializer().fields["target"].read_only is False


def test_a_subclass_keeps_a_pattern_of_its_own() -> None:
    assert "profile" in DatasetSerializer().fields
    assert "profile" not in DatasetListSerializer().fields
    assert "profile" in DatasetSerializer().fields


@pytest.mark.django_db
def test_answers_are_those_of_the_fields_drf_derives(personas: dict[str, Any]) -> None:
    job = job_row(personas["owner"], max_trials=3, status="SUCCEEDED", test_metrics={"auc": 0.9})
    Trial.objects.create(job=job, number=0, status="COMPLETED", score=0.5, hyperparameters={})
    ours = JobSerializer(job).data
    assert ours["trials"][0]["score"] == 0.5
    assert ours["max_trials"] == 3
    assert ours == _stock(JobSerializer(job)).data
    assert JobSerializer([job, job], many=True).data == [ours, ours]
    dataset = job.dataset
    assert DatasetSerializer(dataset).data == _stock(DatasetSerializer(dataset)).data
