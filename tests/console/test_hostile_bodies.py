"""Bodies built to crash a parser get a 400 with a reason, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from jobs.engine.column_specs import ColumnSpec
from jobs.engine.encoding import encode_records
from jobs.engine.layers import RecordError

pytestmark = pytest.mark.django_db

DEEP = b"[" * 100_000 + b"]" * 100_000


def test_a_deeply_nested_json_body_is_a_400_on_the_api(api_as: Any) -> None:
    response = api_as("owner").post("/api/v1/jobs/", DEEP, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]


def test_a_deeply_nested_sign_in_is_refused_not_crashed(personas: dict[str, Any]) -> None:
    response = Client().post("/api/v1/auth/token/", DEEP, content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize("value", [10**4000, -(10**39), float("inf")])
def test_a_number_no_model_input_can_hold_is_a_record_error(value: Any) -> None:
    spec = ColumnSpec(name="income", type="numeric")
    with pytest.raises(RecordError, match="finite number") as caught:
        encode_records([spec], [{"income": value}])
    assert caught.value.field == "income"
    assert encode_records([spec], [{"income": 3.5e38 / 2}])[0, 0] > 1e38
