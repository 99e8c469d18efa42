from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from jobs.engine.search import SearchConfig, SearchResult, run_search
from tests.stack import Stack, running_stack

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def breast_cancer_csv(rows: int | None = None) -> bytes:
    """scikit-learn's bundled breast cancer data, with a categorical column and readable labels."""
    data = load_breast_cancer(as_frame=True)
    frame = data.frame.iloc[:, [0, 1, 2, 3, 20, 21, 22, 23]].copy()
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    frame["clinic"] = [("north", "south", "east")[i % 3] for i in range(len(frame))]
    frame["diagnosis"] = data.frame["target"].map({0: "malignant", 1: "benign"})
    if rows:
        frame = frame.iloc[:rows]
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


@pytest.fixture(autouse=True)
def _fresh_request_limits() -> None:
    """Sign-in counts and DRF throttles live in the shared Redis cache, where every test's
    web processes count against 127.0.0.1: start each test from zero."""
    from django.conf import settings

    if not settings.EMBEDDED:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        doomed = [*client.scan_iter("*:signin:*"), *client.scan_iter("*:throttle_*")]
        if doomed:
            client.delete(*doomed)


class RecordingReporter:
    def __init__(self, cancel_after: int | None = None) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.errors: list[str] = []
        # (number, status, score, hyperparameters) of each finished trial
        self.finished: list[tuple[int, str, float | None, dict[str, Any]]] = []
        self.cancel_after = cancel_after

    def trial_started(self, number: int, hyperparameters: dict[str, Any]) -> None:
        self.calls.append(("trial_started", number))

    def epoch_end(self, number: int, epoch: int, metrics: dict[str, float]) -> None:
        self.calls.append(("epoch_end", (number, epoch, sorted(metrics))))

    def trial_finished(
        self,
        number: int,
        status: str,
        score: float | None,
        hyperparameters: dict[str, Any],
        error: str = "",
    ) -> None:
        self.calls.append(("trial_finished", (number, status)))
        self.finished.append((number, status, score, hyperparameters))
        self.errors.append(error)

    def cancelled(self) -> bool:
        return self.cancel_after is not None and len(self.calls) >= self.cancel_after


@pytest.fixture(scope="session")
def cancer_frame() -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(breast_cancer_csv()))


@pytest.fixture(scope="session")
def searched(
    cancer_frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> tuple[SearchResult, RecordingReporter, Path]:
    reporter = RecordingReporter()
    workdir = tmp_path_factory.mktemp("search")
    config = SearchConfig(target="diagnosis", task_type="binary", max_trials=2, max_epochs=2)
    result = run_search(cancer_frame, config, workdir=workdir, reporter=reporter)
    path = workdir / "model.keras"
    result.model.save(path)
    return result, reporter, path


@pytest.fixture(scope="session")
def embedded_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack("embedded", tmp_path_factory.mktemp("embedded")) as stack:
        yield stack


@pytest.fixture(scope="session")
def postgres_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack("postgres", tmp_path_factory.mktemp("postgres")) as stack:
        yield stack


@pytest.fixture
def media_root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.UPLOAD_STAGING_DIR = str(tmp_path / "uploads")
    return Path(settings.MEDIA_ROOT)


@pytest.fixture
def personas(db: None) -> dict[str, Any]:
    """Owner, teammate and outsider. A teammate sees no more of the owner's objects than an
    outsider does, except registered models shared with a workspace they belong to
    (tests/models_registry/conftest.py:share gives them a role there)."""
    from tests.factories import UserFactory

    return {name: UserFactory(username=name) for name in ("owner", "teammate", "outsider")}


@pytest.fixture
def api_as(personas: dict[str, Any]) -> Any:
    from rest_framework.test import APIClient

    def client(name: str | None) -> APIClient:
        api = APIClient()
        if name:
            api.force_authenticate(personas[name])
        return api

    return client


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def always_ensemble(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tasks that build their own ensemble (multi-label, forecasting) always register the
    average of their best: for tests of an ensemble's own build, save and predict (the choice
    is tested apart)."""
    from jobs.engine import runner

    def always(*args: Any, build: Any, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        members = args[1]
        return build(members), {"size": len(members), "chosen": True}

    monkeypatch.setattr(runner, "choose", always)
