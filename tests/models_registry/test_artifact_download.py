"""A version's file leaves by the version's id, to those who read the version; nothing in a
request names a path, and a stored name the registry did not give is refused."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

import pytest

from models_registry.models import ModelVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(personas: dict[str, Any], register: Callable[..., ModelVersion]) -> ModelVersion:
    return register(personas["owner"])


def test_download_sends_the_recorded_file_with_its_digest(
    version: ModelVersion, api_as: Any
) -> None:
    answer = api_as("owner").get(f"/api/v1/model-versions/{version.pk}/artifact/")
    assert answer.status_code == 200
    data = b"".join(answer.streaming_content)
    assert hashlib.sha256(data).hexdigest() == version.artifact_sha256
    expected = base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert answer["Repr-Digest"] == f"sha-256=:{expected}:"
    assert answer["Content-Type"] == "application/octet-stream"
    assert 'filename="cancer-diagnosis-v1.keras"' in answer["Content-Disposition"]
    for who, code in (("teammate", 404), ("outsider", 404), (None, 401)):
        refused = api_as(who).get(f"/api/v1/model-versions/{version.pk}/artifact/")
        assert refused.status_code in ((401, 403) if code == 401 else (code,)), who


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/model-versions/../../../../etc/passwd/artifact/",
        "/api/v1/model-versions/..%2F..%2F..%2Fetc%2Fpasswd/artifact/",
        "/api/v1/model-versions/%2e%2e%2f%2e%2e%2fetc%2fpasswd/artifact/",
        "/api/v1/model-versions/%252e%252e%252fetc%252fpasswd/artifact/",
        "/api/v1/model-versions//etc/passwd/artifact/",
        "/api/v1/model-versions/%2Fetc%2Fpasswd/artifact/",
        "/api/v1/model-versions/..%5C..%5Cetc%5Cpasswd/artifact/",
        "/api/v1/model-versions/..\\..\\etc\\passwd/artifact/",
        "/admin/models_registry/modelversion/..%2F..%2Fetc%2Fpasswd/artifact/",
        "/admin/models_registry/modelversion/%2Fetc%2Fpasswd/artifact/",
    ],
)
def test_traversal_attempts_in_the_url_find_nothing(
    path: str, version: ModelVersion, api_as: Any, personas: dict[str, Any]
) -> None:
    from django.contrib.auth.models import User
    from django.test import Client

    User.objects.filter(pk=personas["owner"].pk).update(is_staff=True, is_superuser=True)
    admin = Client()
    admin.force_login(personas["owner"])
    client = admin if path.startswith("/admin/") else api_as("owner")
    answer = client.get(path)
    assert answer.status_code in (301, 302, 404), answer.status_code
    assert b"root:" not in b"".join(getattr(answer, "streaming_content", [answer.content]))


@pytest.mark.parametrize(
    "query", ["?path=../../etc/passwd", "?file=%2Fetc%2Fpasswd", "?name=..%5C..%5Cx"]
)
def test_query_parameters_do_not_choose_the_file(
    query: str, version: ModelVersion, api_as: Any
) -> None:
    answer = api_as("owner").get(f"/api/v1/model-versions/{version.pk}/artifact/{query}")
    data = b"".join(answer.streaming_content)
    assert hashlib.sha256(data).hexdigest() == version.artifact_sha256


@pytest.mark.parametrize(
    "stored",
    [
        "../../../../etc/passwd",
        "models/../../../etc/passwd",
        "/etc/passwd",
        "models\\..\\..\\secret.keras",
        "models/%2e%2e%2fsecret.keras",
        "datasets/0123456789abcdef0123456789abcdef.csv",
        "models/0123456789abcdef0123456789abcdef.h5",
    ],
)
def test_a_stored_name_the_registry_did_not_give_is_refused(
    stored: str, version: ModelVersion, api_as: Any
) -> None:
    # as if the row had been edited in the database, bypassing the model's save()
    ModelVersion.objects.filter(pk=version.pk).update(artifact=stored)
    answer = api_as("owner").get(f"/api/v1/model-versions/{version.pk}/artifact/")
    assert answer.status_code == 404
