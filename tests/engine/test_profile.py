from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from jobs.engine.io import profile as profile_module
from jobs.engine.io import profile_columns
from tests.engine.profiling import codes, column, mixed_table, profile_of


def test_every_type_is_inferred(rng: np.random.Generator) -> None:
    table = mixed_table(rng)
    profile = profile_of(table)
    types = {c["name"]: c["inferred_type"] for c in profile["columns"]}
    assert types == {
        "row": "identifier",
        "numeric": "numeric",
        "integer": "integer",
        "flag": "boolean",
        "flag01": "boolean",
        "yesno": "boolean",
        "colour": "categorical",
        "comment": "text",
        "stamp": "datetime",
        "day": "datetime",
        "iso": "datetime",
        "picture": "image_path",
        "user_id": "identifier",
        "same": "constant",
        "nothing": "constant",
    }
    assert profile["n_rows"] == 120
    assert profile["n_columns"] == 15
    assert profile["memory_bytes"] == table.nbytes
    assert column(profile, "iso")["min"] == "2023-01-01T00:00:00"
    assert column(profile, "nothing")["missing"] == 120
    assert column(profile, "nothing")["distinct"] == 0


def test_numbers_have_exact_moments_and_a_histogram_of_every_row(rng: np.random.Generator) -> None:
    values = rng.normal(5, 3, 500)
    mask = rng.random(500) < 0.2
    profile = profile_of(pa.table({"x": pa.array(values, mask=mask)}), batch_rows=64)
    x = column(profile, "x")
    present = values[~mask]
    assert x["missing"] == mask.sum()
    assert x["min"] == present.min()
    assert x["max"] == present.max()
    assert x["mean"] == pytest.approx(present.mean())
    assert x["std"] == pytest.approx(present.std(ddof=1))
    assert len(x["histogram"]["edges"]) == 21
    assert len(x["histogram"]["counts"]) == 20
    assert sum(x["histogram"]["counts"]) == len(present)  # small table: the sample is every row


def test_moments_of_integers_and_of_floats_holding_nan(rng: np.random.Generator) -> None:
    # integers far from zero (where a running sum of squares loses the variance), with nulls
    ints = rng.integers(10**12, 10**12 + 1000, 700)
    mask = rng.random(700) < 0.1
    # a Parquet column can hold NaN beside nulls: NaN is left out of the extremes
    floats = rng.normal(0, 1, 700)
    floats[[3, 300]] = np.nan
    table = pa.table({"n": pa.array(ints, mask=mask), "f": pa.array(floats, from_pandas=False)})
    profile = profile_of(table, batch_rows=100)

    n = column(profile, "n")
    present = ints[~mask]
    assert (n["min"], n["max"]) == (present.min(), present.max())
    assert n["mean"] == pytest.approx(present.mean(), rel=1e-12)
    assert n["std"] == pytest.approx(present.std(ddof=1), rel=1e-6)
    f = column(profile, "f")
    finite = floats[~np.isnan(floats)]
    assert (f["min"], f["max"]) == (finite.min(), finite.max())


def test_histograms_cover_the_sampled_rows(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(profile_module, "SAMPLE_ROWS", 300)
    n = 5000
    table = pa.table(
        {
            "full": rng.normal(0, 1, n),
            "holes": pa.array(rng.normal(0, 1, n), mask=rng.random(n) < 0.5),
            "small": rng.integers(0, 5, n),
        }
    )
    profile = profile_of(table, batch_rows=700)
    assert profile["sample_rows"] == 300
    assert sum(column(profile, "full")["histogram"]["counts"]) == 300
    assert 50 < sum(column(profile, "holes")["histogram"]["counts"]) < 250
    small = column(profile, "small")["histogram"]
    # A few integers: one bin per value, centred on it.
    assert small["edges"] == [-0.5, 0.5, 1.5, 2.5, 3.5, 4.5]
    assert sum(small["counts"]) == 300


def test_text_lengths_count_characters_and_empty_strings(monkeypatch: pytest.MonkeyPatch) -> None:
    table = pa.table({"t": ["", "ab", "abcd", None, "héllo", "ab"]})
    for cap in (100, 2):  # exact counts, and past the cap (lengths from the offsets)
        monkeypatch.setattr(profile_columns, "DISTINCT_CAP", cap)
        t = column(profile_of(table, batch_rows=4), "t")
        assert t["empty"] == 1
        assert t["missing"] == 1
        assert t["length"]["min"] == 0
        assert t["length"]["max"] == 5
        assert t["length"]["mean"] == pytest.approx(13 / 5)
        assert sum(t["length"]["histogram"]["counts"]) == 5


def test_top_values_are_counted_exactly() -> None:
    values = ["a"] * 5 + ["b"] * 3 + ["c"] * 3 + [None] * 2
    c = column(profile_of(pa.table({"c": values}), batch_rows=3), "c")
    assert c["top"] == [
        {"value": "a", "count": 5},
        {"value": "b", "count": 3},
        {"value": "c", "count": 3},
    ]
    assert c["distinct"] == 3
    assert "distinct_approx" not in c


def test_distinct_past_the_cap_is_an_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(profile_columns, "DISTINCT_CAP", 1000)
    monkeypatch.setattr(profile_columns, "SKETCH_K", 256)
    rng = np.random.default_rng(1)
    values = rng.permutation(20_000) % 8000
    profile = profile_of(pa.table({"v": values, "s": [f"k{v}" for v in values]}), batch_rows=3000)
    for name in ("v", "s"):
        entry = column(profile, name)
        assert entry["distinct_approx"] is True
        assert entry["distinct"] == pytest.approx(8000, rel=0.25)


def test_top_values_past_the_cap_come_from_the_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(profile_columns, "DISTINCT_CAP", 10)
    table = pa.table({"note": [f"one-off {i}" for i in range(100)] + ["again"] * 20})
    note = column(profile_of(table, batch_rows=30), "note")
    # Values seen once in the sample are left out: their counts would be guesses.
    assert note["top"] == [{"value": "again", "count": 20}]
    assert note["top_approx"] is True


def test_datetimes_report_order_and_gaps() -> None:
    start = dt.datetime(2024, 3, 1)
    minutes = [0, 1, 2, 3, 10, 11, 12, 12, 13, 30]
    stamps = [start + dt.timedelta(minutes=m) for m in minutes]
    table = pa.table(
        {
            "sorted": pa.array([*stamps[:5], None, *stamps[5:]], pa.timestamp("s")),
            "shuffled": pa.array([stamps[1], stamps[0], *stamps[2:], stamps[9]], pa.timestamp("s")),
        }
    )
    profile = profile_of(table, batch_rows=3)
    ordered = column(profile, "sorted")
    assert ordered["sorted"] is True
    assert ordered["min"] == "2024-03-01T00:00:00"
    assert ordered["max"] == "2024-03-01T00:30:00"
    # Positive steps 1,1,1,7,1,1,1,17 minutes: median 60 s, two steps over 90 s.
    assert ordered["gaps"] == {"median_step_seconds": 60.0, "n_gaps": 2}
    assert column(profile, "shuffled")["sorted"] is False
    assert column(profile, "shuffled")["gaps"] is None


def test_iso_strings_are_parsed_as_datetimes_and_overrides_coerce() -> None:
    n = 40
    table = pa.table(
        {
            "when": [f"2024-02-{1 + i % 28:02d} 10:00:00" for i in range(n)],
            "half": [f"2024-02-{1 + i % 28:02d}" if i % 2 else "soon" for i in range(n)],
            "amount": [str(i * 1.5) if i % 4 else "n/a" for i in range(n)],
            "code": [i % 3 for i in range(n)],
        }
    )
    plain = profile_of(table)
    assert column(plain, "when")["type"] == "datetime"
    assert column(plain, "half")["type"] == "categorical"
    assert column(plain, "amount")["type"] == "categorical"
    overrides = {"half": "datetime", "amount": "numeric", "code": "categorical"}
    forced = profile_of(table, batch_rows=7, overrides=overrides)
    half = column(forced, "half")
    assert (half["type"], half["inferred_type"]) == ("datetime", "datetime")
    assert half["unparsed"] == 20
    assert half["missing"] == 20
    amount = column(forced, "amount")
    assert (amount["type"], amount["unparsed"], amount["max"]) == ("numeric", 10, 58.5)
    code = column(forced, "code")
    assert (code["type"], code["inferred_type"]) == ("categorical", "integer")
    assert [t["count"] for t in code["top"]] == [14, 13, 13]
    assert "unparsed_values" in codes(forced, "amount")


def test_bad_overrides_and_targets_are_refused() -> None:
    table = pa.table({"a": [1, 2], "b": ["x", "y"]})
    with pytest.raises(ValueError, match="Unknown column types"):
        profile_of(table, overrides={"a": "fancy"})
    with pytest.raises(ValueError, match="No column named 'c'"):
        profile_of(table, overrides={"c": "numeric"})
    with pytest.raises(ValueError, match="No column named 'z'"):
        profile_of(table, target="z")


def test_identifier_constant_missing_and_cardinality_warnings(rng: np.random.Generator) -> None:
    n = 600
    table = pa.table(
        {
            "customer_id": [f"c{i}" for i in rng.permutation(n)],
            "plan": ["basic"] * n,
            "phone": pa.array(rng.integers(0, 9, n), mask=rng.random(n) < 0.7),
            "city": [f"city{i % 150}" for i in range(n)],
            "colour": rng.choice(["red", "blue"], n).tolist(),
            "spend": rng.normal(50, 10, n),
        }
    )
    profile = profile_of(table, batch_rows=100)
    assert codes(profile, "customer_id") == {"identifier"}
    assert codes(profile, "plan") == {"constant"}
    assert codes(profile, "phone") == {"high_missing"}
    assert codes(profile, "city") == {"high_cardinality"}
    assert codes(profile, "colour") == set()
    assert "duplicate_rows" not in codes(profile)
    assert profile["suggested_target"] == "spend"
    assert profile["suggested_task_type"] == "regression"


def test_duplicate_rows_are_counted_exactly() -> None:
    table = pa.table(
        {
            "a": [1, 2, 1, 3, 1, None, None],
            "b": ["x", "y", "x", "x", "x", None, None],
            "c": [0.5, -0.0, 0.5, 0.5, 0.5, 2.0, 2.0],
        }
    )
    profile = profile_of(table, batch_rows=2)
    assert profile["duplicate_rows"] == 3  # two repeats of row 0, one of row 5
    assert "duplicate_rows" in codes(profile)
    # An increasing column proves every row distinct.
    with_id = table.append_column("id", pa.array(range(7)))
    assert profile_of(with_id, batch_rows=2)["duplicate_rows"] == 0
    # One that stops increasing late still finds rows repeated from before.
    restarting = table.append_column("id", pa.array([1, 2, 3, 4, 1, 5, 5]))
    assert profile_of(restarting, batch_rows=2)["duplicate_rows"] == 2  # rows 4 and 6


def test_leakage_is_found_for_classification_targets(rng: np.random.Generator) -> None:
    n = 500
    label = rng.choice(["yes", "no"], n)
    table = pa.table(
        {
            "id": np.arange(n),
            "colour": rng.choice(["red", "green", "blue"], n),
            "noise": rng.normal(0, 1, n),
            "status": np.where(label == "yes", "closed", "open"),
            "refund": np.where(label == "yes", 50.0, 0.0) + rng.random(n),
            "label": label,
        }
    )
    profile = profile_of(table, batch_rows=128)
    assert profile["suggested_target"] == "label"
    assert profile["suggested_task_type"] == "binary"
    leaks = {w["column"] for w in profile["warnings"] if w["code"] == "target_leakage"}
    assert leaks == {"status", "refund"}


def test_leakage_is_found_for_regression_targets(rng: np.random.Generator) -> None:
    n = 400
    price = rng.normal(100, 20, n)
    table = pa.table(
        {
            "size": rng.normal(0, 1, n),
            "price_with_tax": price * 1.2 + rng.normal(0, 0.1, n),
            "tier": rng.choice(["a", "b", "c"], n),
            "price": price,
        }
    )
    profile = profile_of(table, target="price")
    assert profile["suggested_task_type"] == "regression"
    leaks = {w["column"] for w in profile["warnings"] if w["code"] == "target_leakage"}
    assert leaks == {"price_with_tax"}


def test_an_imbalanced_target_is_not_blamed_on_its_features(rng: np.random.Generator) -> None:
    n = 1000
    outcome = np.where(np.arange(n) < 5, "fraud", "ok")
    table = pa.table(
        {"amount": rng.normal(0, 1, n), "shop": rng.choice(["a", "b"], n), "outcome": outcome}
    )
    profile = profile_of(table)
    assert profile["suggested_target"] == "outcome"
    target_codes = codes(profile, "outcome")
    assert target_codes == {"class_imbalance", "few_rows_per_class"}
    assert "target_leakage" not in codes(profile)


def test_few_rows_in_a_class_without_imbalance() -> None:
    kind = ["a"] * 26 + ["b"] * 26 + ["c"] * 8
    profile = profile_of(pa.table({"x": np.arange(60) % 7, "kind": kind}))
    assert profile["suggested_task_type"] == "multiclass"
    assert codes(profile, "kind") == {"few_rows_per_class"}


@pytest.mark.parametrize(
    ("values", "task"),
    [
        ([1.5, 2.5] * 30, "binary"),
        (["a", "b", "c"] * 20, "multiclass"),
        ([1, 2, 3, 4, 5] * 12, "multiclass"),
        (list(np.linspace(0, 1, 60)), "regression"),
        (list(range(60)), None),  # an identifier is never suggested...
    ],
)
def test_task_type_follows_the_target_values(values: list[Any], task: str | None) -> None:
    table = pa.table({"feature": np.arange(60) % 4, "target": values})
    profile = profile_of(table)
    assert profile["suggested_target"] == "target"
    if task is None:
        assert column(profile, "target")["type"] == "identifier"
    else:
        assert profile["suggested_task_type"] == task


def test_without_a_named_target_the_last_usable_column_is_suggested() -> None:
    n = 80
    table = pa.table(
        {
            "score": np.arange(n) % 30,
            "segment": [f"s{i % 4}" for i in range(n)],
            "note": [f"free text about case {i} and more" for i in range(n)],
            "key": [f"k{i}" for i in range(n)],
        }
    )
    profile = profile_of(table)
    assert profile["suggested_target"] == "segment"
    assert profile["suggested_task_type"] == "multiclass"
    assert profile_of(table, target="score")["suggested_task_type"] == "regression"
