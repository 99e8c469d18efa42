"""The HTTP side of the command-line client: where the console is, who you are, and errors."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

CONFIG_ENV = "AUTOML_CONFIG"


def config_path() -> Path:
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "automl" / "config.json"


class ApiError(Exception):
    """An error answer, with the API's error body (code, detail, fields)."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body if isinstance(body, dict) else {"detail": str(body)}
        super().__init__(self.message)

    @property
    def code(self) -> str:
        return str(self.body.get("code", "error"))

    @property
    def message(self) -> str:
        return f"HTTP {self.status} {self.code}: {self.body.get('detail', '')}"


@dataclass
class Credentials:
    url: str
    token: str

    @classmethod
    def load(cls) -> Credentials:
        """From AUTOML_URL/AUTOML_TOKEN, else the file `automl login` wrote."""
        url, token = os.environ.get("AUTOML_URL", ""), os.environ.get("AUTOML_TOKEN", "")
        if not (url and token):
            path = config_path()
            if path.exists():
                saved = json.loads(path.read_text())
                url, token = url or saved.get("url", ""), token or saved.get("token", "")
        if not (url and token):
            raise ApiError(401, {"code": "not_authenticated", "detail": "Run `automl login`."})
        return cls(url=url.rstrip("/"), token=token)

    def save(self) -> Path:
        path = config_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        # The token is a password: readable by its owner only, from the first byte.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump({"url": self.url, "token": self.token}, out)
        return path


class Api:
    def __init__(self, credentials: Credentials, timeout: float = 60) -> None:
        self.credentials = credentials
        self.auth_headers = {"Authorization": f"Token {credentials.token}"}
        self.http = httpx.Client(
            base_url=credentials.url,
            headers={**self.auth_headers, "Accept": "application/json"},
            timeout=timeout,
        )

    @property
    def ws_url(self) -> str:
        return self.credentials.url.replace("https://", "wss://").replace("http://", "ws://")

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.http.request(method, path, **kwargs)
        if answer.status_code >= 400:
            try:
                body = answer.json()
            except ValueError:
                body = {"code": "error", "detail": answer.text[:500]}
            raise ApiError(answer.status_code, body)
        if answer.status_code == 204 or not answer.content:
            return None
        return answer.json()

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def create(self, path: str, body: Any) -> Any:
        """A POST that makes something, retried once on a dropped connection: the
        Idempotency-Key makes the retry return the first answer instead of a duplicate."""
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        try:
            return self.request("POST", path, json=body, headers=headers)
        except httpx.TransportError:
            return self.request("POST", path, json=body, headers=headers)

    def list_all(self, path: str, limit: int | None = None, **params: Any) -> list[Any]:
        """Every item of a list, page after page; the first `limit` only when given (then
        no page past them is read)."""
        page = self.get(path, **params)
        if isinstance(page, list):
            return page[:limit]
        items = list(page["results"])
        while page.get("next") and (limit is None or len(items) < limit):
            page = self.request("GET", page["next"])
            items += page["results"]
        return items[:limit]
