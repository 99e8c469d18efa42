from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

from jobs import services
from jobs.models import Dataset
from tests.conftest import breast_cancer_csv

User = get_user_model()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "Passw0rd!-x")


def make_dataset(owner: Any, content: bytes | None = None, name: str = "cancer") -> Dataset:
    upload = SimpleUploadedFile(f"{name}.csv", content or breast_cancer_csv(), "text/csv")
    return services.dataset_create(owner=owner, uploaded_file=upload, name=name)
