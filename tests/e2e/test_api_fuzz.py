"""Schemathesis fuzzes every operation of the live OpenAPI schema, signed in and anonymous:
no answer is a server error, and every answer matches the schema (status code, content type,
body)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.stack import Stack, running_stack

pytestmark = pytest.mark.stack

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)
ST = Path(sys.executable).with_name("st")


@pytest.fixture(scope="module")
def fuzzed_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Its own console: what the fuzzer creates stays out of the other tests' way, and the
    throttles are opened (a 429 would only hide the answers worth checking)."""
    rates = {"API_RATE_USER": "100000/min", "API_RATE_ANON": "100000/min"}
    with running_stack("embedded", tmp_path_factory.mktemp("fuzz"), rates) as stack:
        yield stack


def _fuzz(location: str, workdir: Path, phases: str, *args: str) -> int:
    run = subprocess.run(
        [str(ST), "run", location, "--checks", CHECKS, "--max-examples", "10", "--seed", "1",
         "--phases", phases, "--request-timeout", "30", "--no-color", *args],
        capture_output=True,
        text=True,
        cwd=workdir,  # its example database and reports stay out of the checkout
        timeout=600,
        check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-6000:]
    generated = re.search(r"(\d+) generated", run.stdout)
    assert generated, run.stdout[-2000:]
    count = int(generated[1])
    print(f"schemathesis {location}: {count} cases")
    return count


def test_every_operation_survives_fuzzing_signed_in_and_anonymous(
    fuzzed_stack: Stack, tmp_path: Path
) -> None:
    stack = fuzzed_stack
    auth = f"Authorization: Token {stack.tokens['owner']}"
    signed_in = _fuzz(
        f"{stack.url}/api/v1/schema/", tmp_path, "examples,coverage,fuzzing,stateful",
        "--header", auth,
        # The fuzzer's own token is in the list it fuzzes: revoking or rotating it would make
        # the rest of the run anonymous. Both are fuzzed in the anonymous run below, and
        # tested in tests/console/test_tokens.py.
        "--exclude-operation-id", "auth_tokens_destroy",
        "--exclude-operation-id", "auth_tokens_rotate_create",
    )  # fmt: skip
    # The schema is for signed-in users; the anonymous run reads the same live schema saved.
    schema = httpx.get(
        f"{stack.url}/api/v1/schema/?format=json",
        headers={"Authorization": f"Token {stack.tokens['owner']}"},
    )
    assert schema.status_code == 200
    saved = tmp_path / "schema.json"
    saved.write_text(schema.text)
    # Anonymous: every operation's every shape of input, each to be refused as the schema says;
    # random inputs and call sequences (fuzzing, stateful) would only meet the same 401 again.
    anonymous = _fuzz(str(saved), tmp_path, "examples,coverage", "--url", stack.url)
    assert signed_in > 300
    assert anonymous > 300
