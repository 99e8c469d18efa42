"""Tokens never reach a log line, whichever way a script sends them."""

from __future__ import annotations

import logging

import pytest

from console import logs


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/ws/jobs/1/?token=abc123", "/ws/jobs/1/?token=[redacted]"),
        ("/x/?a=1&token=aml_Z-9&b=2", "/x/?a=1&token=[redacted]&b=2"),
        ("/x/?api_key=s3cret", "/x/?api_key=[redacted]"),
        ("/x/?tokens=1", "/x/?tokens=1"),
    ],
)
def test_secrets_in_query_strings_are_redacted(line: str, expected: str) -> None:
    assert logs.redact(line) == expected


def test_uvicorn_access_lines_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    logs.install("uvicorn.access")
    logger = logging.getLogger("uvicorn.access")
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        # The arguments uvicorn's access log passes: client, method, path, version, status.
        logger.info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5000",
            "GET",
            "/ws/jobs/1/?token=topsecret",
            "1.1",
            101,
        )
    assert "topsecret" not in caplog.text
    assert "token=[redacted]" in caplog.text
