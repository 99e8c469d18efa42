"""The embedded default's broker: kombu's filesystem transport, with each message visible to a
worker only once it is written whole.

kombu's own `_put` creates the message file under its final name and then writes it, and its
`_get` moves and reads any file with that name: a worker polling between the two read an empty
file, stopped with "Unrecoverable error: JSONDecodeError", and the message was lost (seen in a
test run: an upload stayed PENDING, its profile never sent, while the short worker restarted).
Here a message is written under a name no reader takes and renamed into place, which is atomic
on one file system; and a reader that still finds an unreadable file (left by a writer killed
mid-write before this change) drops it with a warning instead of stopping the worker.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from time import monotonic, time
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

logger = logging.getLogger(__name__)


# A writer renames its file within milliseconds; one this old was left by a writer killed
# before its rename, and nothing will ever take it.
ORPHAN_AGE_S = 600


class Channel(filesystem.Channel):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sweep_orphans()

    def _sweep_orphans(self) -> None:
        with contextlib.suppress(OSError), os.scandir(self.data_folder_out) as entries:
            for entry in entries:
                if entry.name.startswith(".partial-"):
                    with contextlib.suppress(OSError):
                        if time() - entry.stat().st_mtime > ORPHAN_AGE_S:
                            os.remove(entry.path)

    # kombu's two parents name the second parameter differently (message, payload).
    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        # The name kombu's readers look for: <ms>_<uuid>.<queue>.msg, in time order.
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # Starts with a dot: its part after the first dot is never "<queue>.msg".
        partial = os.path.join(self.data_folder_out, f".partial-{uuid.uuid4()}")
        try:
            with open(partial, "wb") as out:
                out.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.remove(partial)
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _get(self, queue: Any, timeout: Any = None) -> Any:
        while True:  # super()._get raises Empty when no message is left
            try:
                return super()._get(queue)
            except ValueError:  # not JSON: the file is already taken off the queue
                logger.warning("Dropped an unreadable message file from queue %s", queue)


class Transport(filesystem.Transport):
    Channel = Channel
