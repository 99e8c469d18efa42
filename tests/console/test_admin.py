from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.factories import UserFactory, make_dataset

pytestmark = pytest.mark.django_db

CHANGELISTS = [
    "jobs/dataset",
    "jobs/trainingjob",
    "jobs/trial",
    "jobs/jobevent",
    "models_registry/registeredmodel",
    "models_registry/modelversion",
    "models_registry/deployment",
]


@pytest.fixture
def admin_client_(db: None) -> Client:
    client = Client()
    client.force_login(UserFactory.create(username="boss", is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize("changelist", CHANGELISTS)
def test_admin_lists_every_object_type(admin_client_: Client, changelist: str) -> None:
    assert admin_client_.get(f"/admin/{changelist}/").status_code == 200


def test_admin_escapes_names_that_look_like_markup(
    admin_client_: Client, personas: dict[str, Any], media_root: Any
) -> None:
    make_dataset(personas["owner"], name="<script>alert(1)</script>")
    page = admin_client_.get("/admin/jobs/dataset/").content
    assert b"<script>alert(1)</script>" not in page
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_admin_pages_need_a_staff_sign_in(personas: dict[str, Any]) -> None:
    client = Client()
    assert "/admin/login/" in client.get("/admin/jobs/dataset/")["Location"]
    client.force_login(personas["owner"])
    assert "/admin/login/" in client.get("/admin/jobs/dataset/")["Location"]
