"""The OpenAPI schema: valid, complete, committed (docs/openapi.yaml), and served."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiYamlRenderer
from openapi_spec_validator import validate

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
FRONTEND = Path(__file__).resolve().parents[2] / "frontend"


def _generated() -> dict[str, Any]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    # Through YAML, as `make openapi` writes it, so both sides have the same types.
    return yaml.safe_load(OpenApiYamlRenderer().render(schema))


def test_the_schema_is_valid_openapi_3() -> None:
    validate(_generated())


def test_the_committed_schema_matches_the_code() -> None:
    committed = yaml.safe_load(COMMITTED.read_text())
    assert _generated() == committed, "docs/openapi.yaml is stale: run `make openapi`"


def test_the_frontends_api_types_match_the_committed_schema() -> None:
    # No skip: node and the frontend's packages are what `make test` builds the frontend with.
    node = shutil.which("node")
    assert node, "node is needed to generate the frontend's API types"
    check = subprocess.run(
        [node, "tools/openapi-gen/gen.mjs", "--check"],
        cwd=FRONTEND,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stderr


def test_every_operation_documents_its_bodies_and_errors() -> None:
    schema = _generated()
    operations = [
        (method, path, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    assert len(operations) > 25
    for method, path, op in operations:
        responses = op["responses"]
        success = [code for code in responses if code.startswith("2")]
        assert success, (method, path)
        for code in success:
            if code != "204":
                assert responses[code].get("content"), (method, path, code)
        for code in ("400", "401", "403", "404", "429"):
            ref = responses[code]["content"]["application/json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/Error"
        # A job's retry, an undeploy, a canary's promotion or rollback and a token's rotation
        # take no body: the object named is the whole request.
        bodiless = (
            "/cancel/", "/predict/", "/jobs/{id}/retry/", "/undeploy/", "/promote/", "/rollback/",
            "/rotate/",
        )  # fmt: skip
        if method == "post" and not path.endswith(bodiless):
            assert "requestBody" in op, (method, path)


@pytest.mark.django_db
def test_schema_swagger_and_redoc_are_served_to_signed_in_users_only(
    api_as: Any,
) -> None:
    assert api_as(None).get("/api/v1/schema/").status_code in (401, 403)
    owner = api_as("owner")
    schema = owner.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert schema.json()["openapi"].startswith("3.")
    swagger = owner.get("/api/v1/docs/")
    assert swagger.status_code == 200
    # The viewers' scripts come from the installed sidecar package, not a CDN.
    assert b"/static/drf_spectacular_sidecar/swagger-ui-dist/" in swagger.content
    assert _remote_assets(swagger.content) == []
    redoc = owner.get("/api/v1/redoc/")
    assert redoc.status_code == 200
    assert b"/static/drf_spectacular_sidecar/redoc/" in redoc.content
    assert _remote_assets(redoc.content) == []


def _remote_assets(page: bytes) -> list[bytes]:
    """Every src/href that names another host. (A plain search for "cdn" would
    also match the page's random CSRF token now and then.)"""
    links = re.findall(rb"""(?:src|href)\s*=\s*["']([^"']*)["']""", page, re.IGNORECASE)
    return [link for link in links if re.match(rb"(?:[a-z]+:)?//", link, re.IGNORECASE)]
