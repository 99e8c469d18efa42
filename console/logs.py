"""Keeps secrets out of the servers' log lines.

uvicorn logs every request's path with its query string (the access log) and every websocket
handshake's; a token passed as `?token=` would land there in clear. Installed on uvicorn's
loggers by the ASGI entry points."""

from __future__ import annotations

import logging
import re

SECRET_IN_QUERY = re.compile(r"(?i)([?&](?:token|access_token|api_key|key)=)[^&\s\"']+")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    return SECRET_IN_QUERY.sub(rf"\g<1>{REDACTED}", text)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def install(*names: str) -> None:
    """Adds the filter to these loggers (once)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())


UVICORN_LOGGERS = ("uvicorn.access", "uvicorn.error")
