"""A search's Keras Tuner state kept between attempts, so a retried job resumes its search.

The tuner's project folder (oracle.json, the tuner's own state with the trial numbers, and a
trial_<id>/ folder per trial with trial.json and its best weights) is packed into a tar after
every finished trial and handed to whoever keeps it; the next attempt unpacks it and reloads
the tuner with overwrite=False. Keras Tuner then skips the finished trials and continues
numbering after them. A trial that was running when the worker died was never saved, so it
is run again (the oracle draws the same trial id, and for the random tuner the same values).
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class TunerState(Protocol):
    """Where a search's tuner state lives between attempts (a job's storage, say).

    A reporter that also has these two methods gets its search saved and resumed.
    """

    def load_tuner_state(self) -> bytes | None:
        """The state an earlier attempt saved, or None to start from scratch."""
        ...

    def save_tuner_state(self, data: bytes) -> None:
        """Keep the state of the search so far (replacing any earlier one)."""
        ...


def state_of(reporter: Any) -> TunerState | None:
    return reporter if isinstance(reporter, TunerState) else None


def pack(directory: Path) -> bytes:
    """The folder as an uncompressed tar (the weights inside hardly compress)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=str(path.relative_to(directory)), recursive=False)
    return buffer.getvalue()


def unpack(data: bytes, directory: Path) -> None:
    """Unpack a tar made by `pack`; the "data" filter refuses links and paths out of it."""
    directory.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        tar.extractall(directory, filter="data")
