from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from sklearn.datasets import load_breast_cancer

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


@pytest.fixture(scope="session")
def embedded_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack("embedded", tmp_path_factory.mktemp("embedded")) as stack:
        yield stack


@pytest.fixture(scope="session")
def postgres_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack("postgres", tmp_path_factory.mktemp("postgres")) as stack:
        yield stack


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
