"""An outsider walks every API route: another user's objects answer 404, whatever the method,
and appear in no list.

The routes come from the URLconf, as in test_access.py, not from a list kept here: a route
added later is walked too, and one whose parameters this file cannot fill in with an object of
the owner's fails the walk until `Owned.params` names it. The outsider is signed in and belongs
to no workspace, so nothing of the owner's is theirs to see (what a teammate sees through a
workspace is test_registry_permissions.py's subject).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from console import tokens
from jobs import services as jobs_services
from jobs.models import Dataset, TrainingJob, Trial
from jobs.upload_stream import UploadStreamMiddleware
from models_registry import services as registry_services
from models_registry.models import (
    Alias,
    AuditEvent,
    BatchPrediction,
    Deployment,
    Membership,
    ModelVersion,
    RegisteredModel,
)
from models_registry.workspaces import workspace_create
from tests.factories import make_dataset

pytestmark = pytest.mark.django_db

API = "api/v1/"
METHODS = ("get", "head", "post", "put", "patch", "delete")
# A parameter in a route: a router's regex group, or a path() converter.
PARAM = re.compile(r"\(\?P<(\w+)>[^)]*\)|<(?:\w+:)?(\w+)>")
# DRF's format-suffix twin of each router route: the same view, walked with `.json`.
FORMAT = "format"

# Routes without an id that list objects (GET): Owned.listed says which are the owner's.
LISTS = {
    "datasets",
    "jobs",
    "models",
    "model-versions",
    "deployments",
    "registry-audit",
    "audit",
    "workspaces",
    "batch-predictions",
    "auth/tokens",
}
# Routes without an id that list no one's objects, and why they are not walked as lists.
NOT_LISTS = {
    "auth/token": "signs in with a password (POST only)",
    "auth/me": "the caller's own account",
    "schema": "the API's description, the same for everyone",
    "docs": "the API's documentation page",
    "redoc": "the API's documentation page",
    "jobs/budgets": "the budget presets, the same for everyone",
    "uploads": "creates an upload (POST only); an upload is read by its id",
    "model-versions/compare": "two versions named by id in the query: walked on its own below",
}


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield route, entry.callback


def _api_routes() -> list[tuple[str, Any]]:
    """Every route under /api/v1/, as the URLconf spells it, with its view."""
    return [(r, view) for r, view in _walk(get_resolver().url_patterns) if r.startswith(API)]


def _params(route: str) -> list[str]:
    return [m[1] or m[2] for m in PARAM.finditer(route)]


def _name(route: str) -> str:
    """The route without its parameters' values: "jobs" for `^jobs/(?P<pk>…)/cancel/$`
    (the resource its first parameter names), "jobs/budgets" for `^jobs/budgets/$`."""
    first = PARAM.search(route[len(API) :])
    head = route[len(API) :][: first.start()] if first else route[len(API) :]
    return re.sub(r"[\^$?]|\\Z|\\\.$|\\", "", head).strip("/")


def _concrete(route: str, values: dict[str, str]) -> str:
    """The path that the route matches with these parameter values."""
    path = PARAM.sub(lambda m: values[m[1] or m[2]], route)
    for token, text in (("^", ""), ("$", ""), ("\\Z", ""), ("/?", "/"), ("\\.", ".")):
        path = path.replace(token, text)
    return "/" + path


def _allowed(view: Any) -> set[str]:
    """The methods the route's view answers: the rest are a 405 before any object is read."""
    cls = view.cls
    # A viewset's route binds some of its methods only (a list route has no DELETE).
    bound = getattr(view, "actions", None)
    methods = set(bound) if bound is not None else {m for m in METHODS if hasattr(cls, m)}
    methods &= set(cls.http_method_names)
    if "get" in methods:
        methods.add("head")  # Django answers HEAD with the GET handler
    return methods


def _rows() -> dict[str, list[dict[str, Any]]]:
    """Every row of the console's own apps: a walk that answers 404 changes none of them."""
    return {
        model._meta.label: list(model._default_manager.order_by("pk").values())
        for label in ("jobs", "models_registry", "console")
        for model in apps.get_app_config(label).get_models()
    }


@dataclass(frozen=True)
class Owned:
    """One object of the owner's of every kind the API names by id."""

    # (resource, parameter) -> the owner's value, e.g. ("jobs", "job_pk") -> "7".
    params: dict[tuple[str, str], str]
    # list name -> ids of the owner's rows that list shows the owner.
    listed: dict[str, set[str]]
    # What each write of the API would take from the owner (serializers ignore the fields
    # that are not theirs): a route that read its body before its object would answer 400
    # to an empty one, and hide whether the object check is there at all.
    body: dict[str, Any]
    dataset: Dataset
    upload_path: Path
    version: ModelVersion

    def values(self, route: str) -> dict[str, str]:
        name = _name(route)
        return {
            p: "json" if p == FORMAT else self.params[(name, p)]
            for p in _params(route)
            if p == FORMAT or (name, p) in self.params
        }


def _version(owner: Any, model: RegisteredModel, dataset: Dataset) -> ModelVersion:
    """A registered version as the registry records it (no search: nothing here loads it)."""
    job = TrainingJob.objects.create(
        owner=owner, dataset=dataset, dataset_sha256=dataset.sha256, target="diagnosis",
        task_type="binary", status=TrainingJob.Status.SUCCEEDED, test_metrics={"accuracy": 0.9},
    )  # fmt: skip
    return ModelVersion.objects.create(
        model=model, version=model.versions.count() + 1, job=job, dataset=dataset,
        artifact="models/x.keras", artifact_sha256="0" * 64, task_type="binary",
        target="diagnosis", created_by=owner,
    )  # fmt: skip


@pytest.fixture
def owned(personas: dict[str, Any], media_root: Path) -> Owned:
    owner = personas["owner"]
    dataset = make_dataset(owner)
    # Queued, with a trial and a manifest: each job route has something to answer the owner.
    job = jobs_services.job_create(owner=owner, dataset=dataset, target="diagnosis")
    TrainingJob.objects.filter(pk=job.pk).update(manifest={"seed": 1})
    Trial.objects.create(job=job, number=0, status=Trial.Status.COMPLETED, score=0.5)
    upload = jobs_services.upload_create(owner=owner, filename="more.csv", size=1000)
    # The model is shared with a workspace (the teammate a viewer): the outsider is kept out
    # by the membership check, not only by the owner's.
    workspace = workspace_create(creator=owner, name="team")
    Membership.objects.create(
        workspace=workspace, user=personas["teammate"], role=Membership.Role.VIEWER
    )
    model = RegisteredModel.objects.create(
        owner=owner, name="cancer", task_type="binary", workspace=workspace
    )
    version, other = _version(owner, model, dataset), _version(owner, model, dataset)
    alias = Alias.objects.create(model=model, name="production", version=version, updated_by=owner)
    deployment = Deployment.objects.create(
        owner=owner, name="cancer", model_version=version, status=Deployment.Status.READY
    )
    key, _ = registry_services.deployment_key_create(deployment=deployment, name="app")
    # Queued: a cancel that got through would show.
    batch = BatchPrediction.objects.create(owner=owner, model_version=version, dataset=dataset)
    token = tokens.token_create(user=owner, name="laptop").token
    registry_event = AuditEvent.objects.create(
        actor=owner, actor_name="owner", action=AuditEvent.Action.DEPLOYED, model=model,
        deployment=deployment, subject="cancer", subject_type=AuditEvent.SubjectType.DEPLOYMENT,
        subject_id=str(deployment.pk),
    )  # fmt: skip
    job_event = AuditEvent.objects.create(
        actor=owner, actor_name="owner", action=AuditEvent.Action.JOB_CREATED, owner=owner,
        subject=f"job {job.pk}", subject_type=AuditEvent.SubjectType.JOB, subject_id=str(job.pk),
    )  # fmt: skip

    def ids(rows: Any) -> set[str]:
        return {str(pk) for pk in rows.values_list("pk", flat=True)}

    return Owned(
        params={
            ("datasets", "pk"): str(dataset.pk),
            ("uploads", "pk"): str(upload.pk),
            ("jobs", "pk"): str(job.pk),
            ("jobs", "job_pk"): str(job.pk),
            ("models", "pk"): str(model.pk),
            ("models", "alias"): alias.name,
            ("model-versions", "pk"): str(version.pk),
            ("deployments", "name"): deployment.name,
            ("deployments", "key_id"): str(key.pk),
            ("registry-audit", "pk"): str(registry_event.pk),
            ("audit", "pk"): str(job_event.pk),
            ("workspaces", "pk"): str(workspace.pk),
            ("batch-predictions", "pk"): str(batch.pk),
            ("auth/tokens", "pk"): str(token.pk),
        },
        listed={
            "datasets": ids(Dataset.objects.filter(owner=owner)),
            "jobs": ids(TrainingJob.objects.filter(owner=owner)),
            "models": {str(model.pk)},
            "model-versions": {str(version.pk), str(other.pk)},
            "deployments": {str(deployment.pk)},
            "registry-audit": {str(registry_event.pk)},
            # Everything in the trail is the owner's: nobody else has done anything yet.
            "audit": ids(AuditEvent.objects.all()),
            "workspaces": {str(workspace.pk)},
            "batch-predictions": {str(batch.pk)},
            "auth/tokens": {str(token.pk)},
        },
        body={
            "name": "outsiders",
            "description": "the outsider's",
            "tags": ["outsider"],
            "version": other.pk,
            "percent": 50,
            "archived": True,
            "markdown": "# the outsider's card",
            "keep_best": False,
            "username": "outsider",
            "role": Membership.Role.ADMIN,
            "drop_columns": ["clinic"],
        },
        dataset=dataset,
        upload_path=jobs_services.upload_staging_path(upload),
        version=version,
    )


def _id_routes(*, twins: bool) -> list[tuple[str, Any]]:
    """Routes with an id: the URLconf's own (twins=False) or DRF's `.json` twins of them."""
    return [
        (route, view)
        for route, view in _api_routes()
        if set(_params(route)) - {FORMAT} and (FORMAT in _params(route)) == twins
    ]


def _outsider_walk(
    routes: list[tuple[str, Any]], owned: Owned, api_as: Any
) -> tuple[list[str], list[str]]:
    """Every method on every route, as the outsider: the answers that were not as they should
    be, and the tables whose rows changed meanwhile (none may: a refusal changes nothing)."""
    outsider = api_as("outsider")
    # A crash is an answer too (500), listed with the rest rather than ending the walk.
    outsider.raise_request_exception = False
    # A route whose id this test cannot fill in would go unchecked: name its object above.
    unmapped = [r for r, _ in routes if set(_params(r)) - set(owned.values(r))]
    assert not unmapped, f"routes with an id that Owned.params does not cover: {unmapped}"
    before = _rows()

    wrong: list[str] = []
    for route, view in routes:
        path = _concrete(route, owned.values(route))
        reached = resolve(path)  # the path reaches this very route, not a sibling
        assert reached.func is view, path
        assert set(reached.kwargs) == set(_params(route)), path
        allowed = _allowed(view)
        for method in METHODS:
            body = owned.body if method in ("post", "put", "patch") else None
            status = getattr(outsider, method)(path, body, format="json").status_code
            # 404 wherever the method is served; a method the route does not serve may also
            # be refused as such (405), which says nothing about the object.
            if status != 404 and not (status == 405 and method not in allowed):
                wrong.append(f"{method.upper()} {path} -> {status}")

    after = _rows()
    changed = [label for label in before if before[label] != after[label]]
    # The files behind the rows are still there too.
    assert owned.upload_path.exists()
    assert owned.dataset.file.storage.exists(owned.dataset.file.name)
    return wrong, changed


def test_every_route_with_an_id_answers_404_to_an_outsider_and_changes_nothing(
    owned: Owned, api_as: Any
) -> None:
    routes = _id_routes(twins=False)
    spelled = {_concrete(r, {p: "{" + p + "}" for p in _params(r)}) for r, _ in routes}
    assert {"/api/v1/jobs/{pk}/cancel/", "/api/v1/deployments/{name}/keys/{key_id}/"} <= spelled
    assert len(routes) >= 40, len(routes)

    wrong, changed = _outsider_walk(routes, owned, api_as)

    assert not wrong, "the outsider was not answered 404:\n" + "\n".join(wrong)
    # Nothing was deleted, cancelled, deployed, shared, revoked or made, in any table.
    assert not changed, f"the outsider's requests changed rows of: {changed}"


def test_no_route_has_a_format_suffix_twin(owned: Owned, api_as: Any) -> None:
    """DRF's router would add `<route>.json/` beside each route, the same view with a `format`
    argument that the viewsets' own actions do not take: those twins answered 500 to everyone.
    The API speaks JSON only, so the router makes none (console/urls.py)."""
    assert not _id_routes(twins=True)
    job = owned.params[("jobs", "pk")]
    owner = api_as("owner")
    owner.raise_request_exception = False  # a 500 is what this test looks for
    for path in (f"/api/v1/jobs/{job}/cancel.json/", f"/api/v1/jobs/{job}.json/"):
        assert owner.post(path).status_code == 404, path
        assert owner.get(path).status_code == 404, path


def test_every_list_shows_an_outsider_none_of_the_owners_objects(owned: Owned, api_as: Any) -> None:
    lists = [(r, _name(r)) for r, _ in _api_routes() if not set(_params(r)) - {FORMAT}]
    unknown = sorted({name for _, name in lists} - LISTS - set(NOT_LISTS))
    assert not unknown, f"routes without an id that are neither in LISTS nor NOT_LISTS: {unknown}"
    assert {name for _, name in lists} >= LISTS, "a list in LISTS is no longer routed"
    assert set(owned.listed) == LISTS

    for route, name in lists:
        if name not in LISTS:
            continue
        path = _concrete(route, {FORMAT: "json"})
        mine = owned.listed[name]
        # The owner sees them in this very list: the check below is not vacuous.
        assert mine <= _listed_ids(api_as("owner"), path), path
        seen = _listed_ids(api_as("outsider"), path)
        assert not seen & mine, f"{path} shows the outsider the owner's {sorted(seen & mine)}"
        # The outsider owns nothing and shares nothing: any row at all is a leak.
        assert not seen, f"{path} shows the outsider {sorted(seen)}"

    # Ids in a query are checked as ids in a path are.
    a, b = sorted(owned.listed["model-versions"])
    compare = f"/api/v1/model-versions/compare/?a={a}&b={b}"
    assert api_as("owner").get(compare).status_code == 200
    assert api_as("outsider").get(compare).status_code == 404


def _listed_ids(api: Any, path: str) -> set[str]:
    """The ids of every row of a list, page after page."""
    ids: set[str] = set()
    while path:
        answer = api.get(path)
        assert answer.status_code == 200, (path, answer.status_code)
        page = answer.json()
        rows = page if isinstance(page, list) else page["results"]
        ids |= {str(row["id"]) for row in rows}
        path = "" if isinstance(page, list) else page["next"]
    return ids


def test_an_outsider_cannot_name_the_owners_objects_in_what_they_create(
    owned: Owned, personas: dict[str, Any], api_as: Any
) -> None:
    outsider = api_as("outsider")
    # A dataset and a model of the outsider's own, so that only the owner's id is wrong.
    theirs = Dataset.objects.create(
        owner=personas["outsider"], name="theirs", file="datasets/none.csv", sha256="1" * 64,
        size_bytes=1, status=Dataset.Status.READY,
    )  # fmt: skip
    model = RegisteredModel.objects.create(
        owner=personas["outsider"], name="theirs", task_type="binary"
    )
    upload, workspace = owned.params[("uploads", "pk")], owned.params[("workspaces", "pk")]
    attempts: list[tuple[str, str, dict[str, Any]]] = [
        ("post", "/api/v1/jobs/", {"dataset": owned.dataset.pk, "target": "diagnosis"}),
        ("post", "/api/v1/datasets/", {"upload": upload, "name": "taken"}),
        ("post", "/api/v1/batch-predictions/", {"version": owned.version.pk, "dataset": theirs.pk}),
        ("post", "/api/v1/batch-predictions/", {"deployment": "cancer", "dataset": theirs.pk}),
        ("post", "/api/v1/batch-predictions/", {"version": owned.version.pk,
                                                "dataset": owned.dataset.pk}),
        # docs/api.md documents 403 for sharing with a workspace one does not belong to.
        ("patch", f"/api/v1/models/{model.pk}/", {"workspace": int(workspace)}),
    ]  # fmt: skip
    before = _rows()

    for method, path, body in attempts:
        status = getattr(outsider, method)(path, body, format="json").status_code
        allowed = {400, 403, 404} if "workspace" in body else {400, 404}
        assert status in allowed, (method, path, body, status)

    assert _rows() == before


def test_the_upload_byte_stream_answers_404_to_an_outsider(
    owned: Owned, personas: dict[str, Any]
) -> None:
    """`PATCH /api/v1/uploads/<id>/` is answered before Django (jobs.upload_stream), so the
    test client never reaches it: its ASGI middleware is called here, in this process."""
    upload = owned.params[("uploads", "pk")]

    def patch(user: Any) -> int:
        raw = tokens.token_create(user=user, name="script").raw
        scope = {
            "type": "http", "method": "PATCH", "path": f"/api/v1/uploads/{upload}/",
            "query_string": b"",
            "headers": [(b"authorization", f"Token {raw}".encode()), (b"upload-offset", b"0"),
                        (b"content-type", b"application/offset+octet-stream"),
                        (b"content-length", b"4")],
        }  # fmt: skip
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"a,b\n", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        async def django(scope: Any, receive: Any, send: Any) -> None:
            raise AssertionError("an upload's PATCH went on to Django")

        # async_to_sync from this thread runs the middleware's database calls here too, inside
        # the test's transaction.
        async_to_sync(UploadStreamMiddleware(django))(scope, receive, send)
        return int(sent[0]["status"])

    assert patch(personas["outsider"]) == 404
    assert owned.upload_path.stat().st_size == 0
    # The same request from the owner is taken: the 404 was about whose upload it is.
    assert patch(personas["owner"]) == 204
    assert owned.upload_path.stat().st_size == 4
