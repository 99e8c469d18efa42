"""Hostile files through the API: refused at upload with a reason (a 400), or, when only the
whole file shows it, the dataset ends FAILED with the reason; no 500, and the web process
reads no more than the file's start."""

from __future__ import annotations

import gzip
import os
import signal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from bench.load_files import xlsx_entity
from jobs.services import datasets
from jobs.tasks import profile_dataset

pytestmark = pytest.mark.django_db


def _upload(api: Any, content: bytes, filename: str) -> Any:
    return api.post(
        "/api/v1/datasets/",
        {"file": SimpleUploadedFile(filename, content, "application/octet-stream")},
        format="multipart",
    )


@pytest.mark.parametrize(
    ("filename", "content", "reason"),
    [
        (
            "deep.jsonl",
            b'{"a": 1}\n{"a": ' + b"[" * 30_000 + b"]" * 30_000 + b"}\n",
            "levels deep",
        ),
        (
            "wide.csv",
            ",".join(f"c{i}" for i in range(100_000)).encode() + b"\n" + b"1," * 99_999 + b"1\n",
            "100,000 columns",
        ),
    ],
)
def test_hostile_files_are_refused_at_upload_with_a_reason(
    api_as: Any, media_root: Any, filename: str, content: bytes, reason: str
) -> None:
    answer = _upload(api_as("owner"), content, filename)
    assert answer.status_code == 400
    assert reason in answer.json()["fields"]["file"][0]
    assert len(answer.content) < 10_000  # the reason, not the file's columns


def test_a_gzip_bomb_fails_its_dataset_with_a_reason(api_as: Any, media_root: Any) -> None:
    rows = b"1,2\n" * (1 << 18)
    bomb = gzip.compress(b"a,b\n" + rows * 100, compresslevel=9)
    answer = _upload(api_as("owner"), bomb, "bomb.csv.gz")
    assert answer.status_code == 201, answer.content  # its start is a fine table
    profile_dataset(answer.json()["id"])
    dataset = api_as("owner").get(f"/api/v1/datasets/{answer.json()['id']}/").json()
    assert dataset["status"] == "FAILED"
    assert "compression bomb" in dataset["error"]


def test_a_workbook_with_an_entity_is_refused_over_the_api_not_a_500(
    api_as: Any, media_root: Any
) -> None:
    answer = _upload(api_as("owner"), xlsx_entity(), "entity.xlsx")
    if answer.status_code == 201:  # only the whole file shows it: its profile fails
        profile_dataset(answer.json()["id"])
        dataset = api_as("owner").get(f"/api/v1/datasets/{answer.json()['id']}/").json()
        assert dataset["status"] == "FAILED"
        assert "DOCTYPE" in dataset["error"]
    else:
        assert answer.status_code == 400, answer.content
        assert "DOCTYPE" in answer.json()["fields"]["file"][0]


def test_a_reader_that_crashes_on_an_upload_fails_that_upload_not_the_web(
    api_as: Any, media_root: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a reader that dies on this file's start, as a C extension's overflow would (the
    # deep JSON Lines that once took the whole web process down with SIGSEGV)
    def crash(*_: Any) -> None:
        os.kill(os.getpid(), signal.SIGSEGV)

    monkeypatch.setattr(datasets, "inspect_table", crash)
    answer = _upload(api_as("owner"), b"a,b\n1,2\n", "crash.csv")

    # then that upload is refused with a reason, and this process (the web) carries on
    assert answer.status_code == 400, answer.content
    assert "SIGSEGV" in answer.json()["fields"]["file"][0]
    monkeypatch.undo()
    assert _upload(api_as("owner"), b"a,b\n1,2\n3,4\n", "fine.csv").status_code == 201
