"""A channel layer in one SQLite file, for the embedded default.

Channels' in-memory layer only reaches consumers in the same process, but worker events have to
reach the web process. This layer keeps messages and group memberships in a SQLite file that
every process on the machine opens; receivers poll it. It suits one machine and a handful of
watchers; production uses channels_redis.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import string
import threading
import time
from pathlib import Path
from typing import Any

from channels.layers import BaseChannelLayer

_SCHEMA = """
CREATE TABLE IF NOT EXISTS message (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,
    body TEXT NOT NULL,
    expires REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS message_channel ON message (channel, id);
CREATE TABLE IF NOT EXISTS membership (
    grp TEXT NOT NULL,
    channel TEXT NOT NULL,
    expires REAL NOT NULL,
    PRIMARY KEY (grp, channel)
);
"""


class SQLiteChannelLayer(BaseChannelLayer):
    extensions = ["groups", "flush"]

    def __init__(
        self,
        path: str,
        expiry: int = 60,
        group_expiry: int = 86400,
        capacity: int = 1000,
        poll_interval: float = 0.05,
        **kwargs: Any,
    ) -> None:
        super().__init__(expiry=expiry, capacity=capacity, **kwargs)
        self.path = path
        self.group_expiry = group_expiry
        self.poll_interval = poll_interval
        self._local = threading.local()
        Path(path).parent.mkdir(parents=True, exist_ok=True)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            self._local.conn = conn
        return conn

    # The blocking halves run in a thread so the event loop keeps serving other sockets.
    def _send(self, channels: list[str], body: str) -> None:
        conn = self._conn()
        now = time.time()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("DELETE FROM message WHERE expires < ?", (now,))
            for channel in channels:
                (count,) = conn.execute(
                    "SELECT COUNT(*) FROM message WHERE channel = ?", (channel,)
                ).fetchone()
                if count < self.get_capacity(channel):
                    conn.execute(
                        "INSERT INTO message (channel, body, expires) VALUES (?, ?, ?)",
                        (channel, body, now + self.expiry),
                    )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _pop(self, channel: str) -> str | None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute(
                "SELECT id, body FROM message WHERE channel = ? AND expires >= ? "
                "ORDER BY id LIMIT 1",
                (channel, time.time()),
            ).fetchone()
            if row is not None:
                conn.execute("DELETE FROM message WHERE id = ?", (row[0],))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return None if row is None else str(row[1])

    def _execute(self, sql: str, params: tuple[object, ...]) -> None:
        self._conn().execute(sql, params)

    def _members(self, group: str) -> list[str]:
        rows = self._conn().execute(
            "SELECT channel FROM membership WHERE grp = ? AND expires >= ?", (group, time.time())
        )
        return [r[0] for r in rows]

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        assert self.require_valid_channel_name(channel)
        await asyncio.to_thread(self._send, [channel], json.dumps(message))

    async def receive(self, channel: str) -> dict[str, Any]:
        assert self.require_valid_channel_name(channel)
        while True:
            body = await asyncio.to_thread(self._pop, channel)
            if body is not None:
                message: dict[str, Any] = json.loads(body)
                return message
            await asyncio.sleep(self.poll_interval)

    async def new_channel(self, prefix: str = "specific.") -> str:
        suffix = "".join(random.choices(string.ascii_letters, k=12))
        return f"{prefix}sqlite!{suffix}"

    async def group_add(self, group: str, channel: str) -> None:
        assert self.require_valid_group_name(group)
        assert self.require_valid_channel_name(channel)
        await asyncio.to_thread(
            self._execute,
            "INSERT OR REPLACE INTO membership (grp, channel, expires) VALUES (?, ?, ?)",
            (group, channel, time.time() + self.group_expiry),
        )

    async def group_discard(self, group: str, channel: str) -> None:
        await asyncio.to_thread(
            self._execute,
            "DELETE FROM membership WHERE grp = ? AND channel = ?",
            (group, channel),
        )

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        assert self.require_valid_group_name(group)
        members = await asyncio.to_thread(self._members, group)
        if members:
            await asyncio.to_thread(self._send, members, json.dumps(message))

    async def flush(self) -> None:
        await asyncio.to_thread(self._execute, "DELETE FROM message", ())
        await asyncio.to_thread(self._execute, "DELETE FROM membership", ())
