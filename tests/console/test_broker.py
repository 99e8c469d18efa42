"""The embedded default's broker (console/broker.py): a worker sees a message only once it is
written whole, and an unreadable message file does not stop it."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from kombu import Connection

from console.broker import ORPHAN_AGE_S


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One broker folder for the module: kombu's filesystem transport keeps the first folder
    # a process used (a process has one broker), so each test takes a queue of its own.
    return tmp_path_factory.mktemp("broker")


def _connection(folder: Path, transport: str = "console.broker:Transport") -> Connection:
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder)}
    options["processed_folder"] = str(folder / "processed")
    options["control_folder"] = str(folder / "control")
    (folder / "control").mkdir(parents=True, exist_ok=True)
    return Connection("filesystem://", transport=transport, transport_options=options)


def test_a_message_goes_through_and_leaves_no_partial_file(folder: Path) -> None:
    with _connection(folder) as conn, conn.SimpleQueue("whole") as queue:
        queue.put({"n": 1})
        names = [p.name for p in folder.iterdir() if p.is_file()]
        assert [n for n in names if n.endswith(".whole.msg")], names
        assert not [n for n in names if n.startswith(".partial")], names
        message = queue.get(timeout=2)
        assert message.payload == {"n": 1}
        message.ack()


def test_a_message_still_being_written_is_not_taken(folder: Path) -> None:
    with _connection(folder) as conn, conn.SimpleQueue("partial") as queue:
        # What a writer holds before its rename: nothing a reader may take yet.
        (folder / ".partial-0000").write_bytes(b'{"half": ')
        with pytest.raises(queue.Empty):
            queue.get(timeout=0.5)
        assert (folder / ".partial-0000").exists()


def test_a_partial_file_left_by_a_killed_writer_is_swept_by_the_next_channel(
    folder: Path,
) -> None:
    orphan, fresh = folder / ".partial-orphan", folder / ".partial-fresh"
    orphan.write_bytes(b'{"half": ')
    fresh.write_bytes(b'{"half": ')
    old = time.time() - ORPHAN_AGE_S - 60
    os.utime(orphan, (old, old))
    with _connection(folder) as conn, conn.SimpleQueue("sweep"):
        assert not orphan.exists()
        assert fresh.exists()  # a writer may be about to rename it
    fresh.unlink()


def _unreadable(folder: Path, queue: str) -> None:
    # kombu's own writer, killed (or read) between creating its file and writing it, leaves
    # an empty message file. Readers take files in the order of their names as strings, and
    # "0_" sorts before any "<monotonic ms>_" name a writer gives, so this file is met first
    # whatever the machine's uptime (a "1_" name sorted after "15..." and before "3...").
    (folder / f"0_00000000-0000-0000-0000-000000000000.{queue}.msg").write_bytes(b"")


def test_an_unreadable_message_file_is_dropped_and_the_next_one_read(folder: Path) -> None:
    with _connection(folder) as conn, conn.SimpleQueue("unreadable") as queue:
        queue.put({"n": 2})
        _unreadable(folder, "unreadable")
        assert len(list(folder.glob("*.unreadable.msg"))) == 2
        message = queue.get(timeout=2)
        assert message.payload == {"n": 2}
        message.ack()
        assert not list(folder.glob("*.unreadable.msg"))
        with pytest.raises(queue.Empty):
            queue.get(timeout=0.2)


def test_kombus_own_transport_stops_on_that_file(folder: Path) -> None:
    # Why console.broker exists: the same file stops kombu's reader with a decoding error,
    # which ends a Celery worker ("Unrecoverable error").
    with _connection(folder, "filesystem") as conn, conn.SimpleQueue("kombu") as queue:
        _unreadable(folder, "kombu")
        with pytest.raises(json.JSONDecodeError):
            queue.get(timeout=2)
