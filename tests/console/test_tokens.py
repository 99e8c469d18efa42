"""Personal API tokens: hashed, named, scoped, expiring, revocable; the legacy sign-in still
works and stores only hashes too; tokens from before are moved to hashes by a migration."""

from __future__ import annotations

import importlib
import time
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.core import signing
from django.db import connection
from django.test import Client
from django.utils import timezone

from console import tokens
from console.models import ApiToken

pytestmark = pytest.mark.django_db


def _as(raw: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {raw}")


def _new(api_as: Any, **body: Any) -> dict[str, Any]:
    answer = api_as("owner").post("/api/v1/auth/tokens/", body, format="json")
    assert answer.status_code == 201, answer.json()
    return dict(answer.json())


def test_a_new_token_is_shown_once_and_stored_only_as_a_hash(api_as: Any) -> None:
    # when the owner makes a named token
    new = _new(api_as, name="ci")

    # then the secret is in this answer only, and the database holds its hash
    raw = new["token"]
    assert raw.startswith("aml_")
    assert new["name"] == "ci"
    assert new["scope"] == "full"
    row = ApiToken.objects.get(pk=new["id"])
    assert raw not in {row.key_hash, row.prefix}
    assert row.key_hash == tokens.hash_key(raw)
    assert raw.startswith(row.prefix)
    listed = api_as("owner").get("/api/v1/auth/tokens/").json()["results"]
    assert [t["name"] for t in listed] == ["ci"]
    assert "token" not in listed[0]

    # and it signs its owner in
    assert _as(raw).get("/api/v1/auth/me/").json()["username"] == "owner"
    assert ApiToken.objects.get(pk=new["id"]).last_used_at is not None


def test_others_cannot_see_or_revoke_a_token(api_as: Any) -> None:
    new = _new(api_as, name="ci")
    for name in ("teammate", "outsider"):
        assert api_as(name).get("/api/v1/auth/tokens/").json()["results"] == []
        assert api_as(name).delete(f"/api/v1/auth/tokens/{new['id']}/").status_code == 404
    assert api_as(None).get("/api/v1/auth/tokens/").status_code in (401, 403)
    assert _as(new["token"]).get("/api/v1/auth/me/").status_code == 200


def test_a_revoked_token_stops_working_at_once(api_as: Any) -> None:
    new = _new(api_as, name="ci")
    assert api_as("owner").delete(f"/api/v1/auth/tokens/{new['id']}/").status_code == 204
    answer = _as(new["token"]).get("/api/v1/auth/me/")
    assert answer.status_code in (401, 403)
    assert answer.json()["code"] == "authentication_failed"
    assert api_as("owner").get("/api/v1/auth/tokens/").json()["results"] == []


def test_a_rotated_token_gets_a_new_secret_and_the_old_one_stops_at_once(api_as: Any) -> None:
    old = _new(api_as, name="deploy-bot", scope="predict")
    assert _as(old["token"]).get("/api/v1/auth/me/").status_code == 200
    answer = api_as("owner").post(f"/api/v1/auth/tokens/{old['id']}/rotate/")
    assert answer.status_code == 201, answer.content
    new = answer.json()
    assert new["token"] != old["token"]
    assert (new["name"], new["scope"]) == ("deploy-bot", "predict")
    assert _as(old["token"]).get("/api/v1/auth/me/").status_code in (401, 403)
    assert _as(new["token"]).get("/api/v1/auth/me/").status_code == 200
    listed = api_as("owner").get("/api/v1/auth/tokens/").json()["results"]
    assert [t["id"] for t in listed] == [new["id"]]
    # and nobody rotates another user's token
    assert api_as("outsider").post(f"/api/v1/auth/tokens/{new['id']}/rotate/").status_code == 404


def test_an_expired_token_is_refused(api_as: Any, personas: dict[str, Any]) -> None:
    made = tokens.token_create(user=personas["owner"], name="old")
    ApiToken.objects.filter(pk=made.token.pk).update(expires_at=timezone.now())
    assert _as(made.raw).get("/api/v1/auth/me/").status_code in (401, 403)
    past = (timezone.now() - timedelta(days=1)).isoformat()
    answer = api_as("owner").post(
        "/api/v1/auth/tokens/", {"name": "x", "expires_at": past}, format="json"
    )
    assert answer.status_code == 400
    assert "future" in answer.json()["fields"]["expires_at"][0]


def test_an_inactive_users_token_is_refused(personas: dict[str, Any]) -> None:
    made = tokens.token_create(user=personas["owner"], name="ci")
    personas["owner"].is_active = False
    personas["owner"].save()
    assert tokens.user_for_token(made.raw) is None
    assert _as(made.raw).get("/api/v1/auth/me/").status_code in (401, 403)


def test_a_read_only_token_reads_but_changes_nothing(personas: dict[str, Any]) -> None:
    raw = tokens.token_create(user=personas["owner"], name="dash", scope="read").raw
    client = _as(raw)
    assert client.get("/api/v1/jobs/").status_code == 200
    refused = client.post("/api/v1/jobs/", {"dataset": 1}, content_type="application/json")
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    assert client.post("/api/v1/deployments/x/predict/", {}).status_code == 403
    assert client.post("/api/v1/auth/tokens/", {"name": "more"}).status_code == 403


def test_a_predict_only_token_may_predict_and_read_but_not_create(
    personas: dict[str, Any],
) -> None:
    raw = tokens.token_create(user=personas["owner"], name="app", scope="predict").raw
    client = _as(raw)
    assert client.get("/api/v1/deployments/").status_code == 200
    # Allowed through (the deployment does not exist: 404, not a scope refusal).
    assert client.post("/api/v1/deployments/nope/predict/", {}).status_code == 404
    assert client.post("/api/v1/uploads/", {"filename": "a", "size": 1}).status_code == 403


def test_user_for_token_resolves_personal_tokens_only(personas: dict[str, Any]) -> None:
    owner = personas["owner"]
    raw = tokens.token_create(user=owner, name="p", scope="predict").raw
    assert tokens.user_for_token(raw) == (owner, frozenset({"read", "predict"}))
    # The predictor's door credential opens the predictor only, not the API.
    assert tokens.user_for_token(tokens.door_credential(user_id=owner.pk)) is None
    for bad in ("", "aml_nope", "x" * 40, "x" * 500):
        assert tokens.user_for_token(bad) is None


def test_the_legacy_token_endpoint_still_works_and_says_it_is_deprecated(
    personas: dict[str, Any],
) -> None:
    answer = Client().post("/api/v1/auth/token/", {"username": "owner", "password": "Passw0rd!-x"})
    assert answer.status_code == 200
    assert answer["Deprecation"] == "true"
    assert "/api/v1/auth/tokens/" in answer["Link"]
    raw = answer.json()["token"]
    assert _as(raw).get("/api/v1/auth/me/").status_code == 200
    # stored as a hash, listed among the owner's tokens, and revocable as any other
    row = ApiToken.objects.get(user=personas["owner"])
    assert row.key_hash == tokens.hash_key(raw)
    assert row.name == tokens.SIGNIN_NAME
    assert all(raw not in str(value) for value in ApiToken.objects.values().get().values())
    assert _as(raw).delete(f"/api/v1/auth/tokens/{row.pk}/").status_code == 204
    assert _as(raw).get("/api/v1/auth/me/").json()["code"] == "authentication_failed"


def test_signing_in_again_and_again_keeps_only_the_newest_tokens_usable(
    personas: dict[str, Any],
) -> None:
    made = []
    for _ in range(tokens.SIGNIN_KEPT + 2):
        answer = Client().post(
            "/api/v1/auth/token/", {"username": "owner", "password": "Passw0rd!-x"}
        )
        made.append(answer.json()["token"])
    assert len(set(made)) == len(made)
    usable = [raw for raw in made if tokens.user_for_token(raw) is not None]
    assert usable == made[2:]
    # a personal token of the same user is left alone
    other = tokens.token_create(user=personas["owner"], name="mine").raw
    Client().post("/api/v1/auth/token/", {"username": "owner", "password": "Passw0rd!-x"})
    assert tokens.user_for_token(other) is not None


def test_door_credentials_are_signed_short_lived_and_name_one_user(
    personas: dict[str, Any], settings: Any
) -> None:
    owner = personas["owner"]
    credential = tokens.door_credential(user_id=owner.pk)
    assert credential.startswith(tokens.DOOR_PREFIX)
    assert tokens.door_user_id(credential) == owner.pk
    # another user's id in the same envelope, or a credential signed with another key
    _, _, rest = credential[len(tokens.DOOR_PREFIX) :].partition(":")
    assert tokens.door_user_id(f"{tokens.DOOR_PREFIX}{personas['outsider'].pk}:{rest}") is None
    assert tokens.door_user_id(credential[len(tokens.DOOR_PREFIX) :]) is None
    settings.SECRET_KEY = "another-" + "k" * 60
    assert tokens.door_user_id(credential) is None


def test_door_credentials_expire(personas: dict[str, Any], monkeypatch: Any) -> None:
    made = signing.b62_encode(int(time.time()) - tokens.DOOR_MAX_AGE - 2)
    monkeypatch.setattr(signing.TimestampSigner, "timestamp", lambda self: made)
    credential = tokens.door_credential(user_id=personas["owner"].pk)
    monkeypatch.undo()
    assert tokens.door_user_id(credential) is None
    assert tokens.door_user_id(tokens.door_credential(user_id=personas["owner"].pk)) is not None


def test_plain_text_tokens_from_before_become_hashes_and_their_table_goes(
    personas: dict[str, Any],
) -> None:
    # given a database from before, with DRF's table of plain-text tokens
    owner = personas["owner"]
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, "
            "created timestamp with time zone NOT NULL, user_id integer NOT NULL UNIQUE)"
        )
        cursor.execute(
            "INSERT INTO authtoken_token VALUES (%s, %s, %s)",
            ["a" * 40, timezone.now() - timedelta(days=400), owner.pk],
        )
    # when the migration runs
    migration = importlib.import_module("console.migrations.0003_hash_legacy_tokens")
    with connection.schema_editor() as editor:
        migration.forwards(apps, editor)
    # then the same secret still signs in, with full scope, and only its hash is kept
    assert tokens.user_for_token("a" * 40) == (owner, frozenset({"read", "predict", "write"}))
    row = ApiToken.objects.get(key_hash=tokens.hash_key("a" * 40))
    assert row.created_at < timezone.now() - timedelta(days=399)
    assert "authtoken_token" not in connection.introspection.table_names()
    # and running it again (a database made after this change) does nothing
    with connection.schema_editor() as editor:
        migration.forwards(apps, editor)
    assert ApiToken.objects.count() == 1
