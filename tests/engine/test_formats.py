"""Tabular formats: detection, round trips, refusals with actionable messages, bounded memory."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from jobs.engine.data import DataError
from jobs.engine.io.export import write_csv_export
from jobs.engine.io.formats import (
    SAMPLE_BYTES,
    ReadOptions,
    TableSource,
    inspect_table,
    iter_batches,
    read_frame,
)

ROWS: list[dict[str, Any]] = [
    {"id": 1, "price": 1.5, "city": "Zürich", "note": "plain"},
    {"id": 2, "price": -2.25, "city": "São Paulo", "note": "has, comma; semi|pipe\ttab"},
    {"id": 3, "price": 3.0, "city": "Kraków", "note": 'two\nlines and "quotes"'},
]


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _csv_text(sep: str) -> str:
    buffer = io.StringIO()
    pd.DataFrame(ROWS).to_csv(buffer, sep=sep, index=False)
    return buffer.getvalue()


def _load(path: Path, options: ReadOptions | None = None) -> tuple[TableSource, pd.DataFrame]:
    source = inspect_table(path, path.name, options or ReadOptions())
    return source, read_frame(path, source)


def _assert_rows(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == ["id", "price", "city", "note"]
    assert frame.to_dict("records") == ROWS


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_delimited_text_round_trips_with_quoted_delimiters_and_newlines(
    tmp_path: Path, sep: str
) -> None:
    path = _write(tmp_path, "data.csv", _csv_text(sep).encode())
    source, frame = _load(path)
    assert (source.format, source.delimiter, source.encoding) == ("csv", sep, "utf-8")
    _assert_rows(frame)


def test_tsv_by_name_and_utf8_bom(tmp_path: Path) -> None:
    path = _write(tmp_path, "data.tsv", b"\xef\xbb\xbf" + _csv_text("\t").encode())
    source, frame = _load(path)
    assert (source.format, source.delimiter, source.encoding) == ("tsv", "\t", "utf-8-sig")
    assert source.columns[0] == "id"
    _assert_rows(frame)


@pytest.mark.parametrize(("codec", "euro"), [("latin-1", ""), ("cp1252", " €")])
def test_single_byte_encodings_are_detected(tmp_path: Path, codec: str, euro: str) -> None:
    rows = [{**row, "note": row["note"] + euro} for row in ROWS]
    buffer = io.StringIO()
    pd.DataFrame(rows).to_csv(buffer, index=False)
    path = _write(tmp_path, "data.csv", buffer.getvalue().encode(codec))
    source, frame = _load(path)
    assert source.encoding == codec
    assert frame.to_dict("records") == rows


def test_utf16_with_bom_from_spreadsheet_unicode_text(tmp_path: Path) -> None:
    path = _write(tmp_path, "export.txt", _csv_text("\t").encode("utf-16"))
    source, frame = _load(path)
    assert (source.encoding, source.delimiter) == ("utf-16", "\t")
    _assert_rows(frame)


def test_gzip_csv(tmp_path: Path) -> None:
    path = _write(tmp_path, "upload.bin", gzip.compress(_csv_text(";").encode()))
    source, frame = _load(path)
    assert (source.format, source.delimiter) == ("csv.gz", ";")
    _assert_rows(frame)


def test_parquet(tmp_path: Path) -> None:
    path = tmp_path / "data.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS), path)
    source, frame = _load(path)
    assert (source.format, source.encoding, source.delimiter) == ("parquet", None, None)
    _assert_rows(frame)


def test_jsonl(tmp_path: Path) -> None:
    lines = [json.dumps(r, ensure_ascii=False) for r in ROWS]
    path = _write(tmp_path, "data.json", ("\n".join(lines[:2]) + "\n\n" + lines[2]).encode())
    source, frame = _load(path)
    assert source.format == "jsonl"
    _assert_rows(frame)


def test_xlsx(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(ROWS[0]))
    for row in ROWS:
        sheet.append(list(row.values()))
    sheet.append([None, None, None, None])
    sheet.append([4, 7, "Oslo", "after a blank row"])
    path = tmp_path / "book.xlsx"
    book.save(path)
    source, frame = _load(path)
    assert source.format == "xlsx"
    assert frame.iloc[:3].to_dict("records") == ROWS
    assert frame["price"].tolist()[3] == 7.0  # a whole number in a column of decimals


def test_overrides_encoding_delimiter_and_no_header(tmp_path: Path) -> None:
    path = _write(tmp_path, "data.csv", "1;é;x\n2;ü;y\n".encode("latin-1"))
    options = ReadOptions(format="csv", encoding="latin-1", delimiter=";", header=False)
    source, frame = _load(path, options)
    assert source.columns == ["column_1", "column_2", "column_3"]
    assert frame.to_dict("records")[1] == {"column_1": 2, "column_2": "ü", "column_3": "y"}
    # A comma inside fields is no delimiter when the user says the delimiter is ';'.
    path = _write(tmp_path, "eu.csv", b"a;b\n1,5;2,5\n3,5;4,5\n")
    assert inspect_table(path, "eu.csv", ReadOptions(delimiter=";")).columns == ["a", "b"]


def test_dates_stay_text_and_empty_first_rows_take_later_text(tmp_path: Path) -> None:
    rows = ["day,maybe,n"] + [f"2024-01-{i % 28 + 1:02d},,{i}" for i in range(150_000)]
    path = _write(tmp_path, "dates.csv", ("\n".join([*rows, "2024-02-01,late text,1"])).encode())
    source = inspect_table(path, "dates.csv")
    batches = list(iter_batches(path, source, batch_rows=50_000))
    assert len({b.schema for b in batches}) == 1
    assert all(b.num_rows <= 50_000 for b in batches)
    table = pa.Table.from_batches(batches)
    assert table.schema.field("day").type == pa.string()
    assert table.column("maybe").to_pylist()[-1] == "late text"
    assert read_frame(path, source, max_rows=10).shape == (10, 3)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.csv", b"", r"is empty"),
        ("blank.csv", b"  \n\n ", r"is empty"),
        ("header.csv", b"a,b,c\n", r"header but no data rows"),
        ("one.csv", b"just\none\ncolumn\n", r"does not look delimited"),
        ("dup.csv", b"a,b,a,c,b\n1,2,3,4,5\n", r"repeats 'a', 'b'"),
        ("blank_names.csv", b"a,,c, \n1,2,3,4\n", r"blank at column position\(s\) 2, 4"),
        ("ragged.csv", b"a,b,c\n1,2,3\n4,5\n", r"Data row 2 \(line 3 .*\) has 2 fields .* has 3"),
        ("bin.csv", b"a,b\n\x00\x01\x02", r"binary file"),
        ("array.json", b'[{"a": 1}]', r"JSON array; JSON Lines needs one object per line"),
        ("bad.jsonl", b'{"a": 1}\n{"a": 2,\n', r"Line 2 is not valid JSON"),
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 50, r"old-style Office"),
    ],
)
def test_bad_files_are_refused_with_the_problem_named(
    tmp_path: Path, name: str, data: bytes, message: str
) -> None:
    path = _write(tmp_path, name, data)
    with pytest.raises(DataError, match=message):
        inspect_table(path, name)


def test_an_image_renamed_csv_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="PNG")
    path = _write(tmp_path, "photo.csv", buffer.getvalue())
    with pytest.raises(DataError, match=r"'photo.csv' is a PNG image, not a table"):
        inspect_table(path, "photo.csv")


def test_a_zip_that_is_no_workbook_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "images.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("cat/1.png", b"x")
    with pytest.raises(DataError, match=r"zip archive but not an Excel workbook"):
        inspect_table(path, "images.zip")


def test_explicit_utf8_names_the_offset_of_bad_bytes(tmp_path: Path) -> None:
    path = _write(tmp_path, "data.csv", "a,b\n1,café\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"not valid utf-8 text: byte 0xe9 at offset 9"):
        inspect_table(path, "data.csv", ReadOptions(encoding="utf-8"))
    assert inspect_table(path, "data.csv").encoding == "latin-1"


def test_a_format_that_does_not_match_the_content_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "data.csv", b"a,b\n1,2\n")
    with pytest.raises(DataError, match=r"given as parquet but its content is a text file"):
        inspect_table(path, "data.csv", ReadOptions(format="parquet"))
    with pytest.raises(DataError, match=r"Unknown format 'xls'"):
        inspect_table(path, "data.csv", ReadOptions(format="xls"))


def _past_the_sample(header: str, row: str) -> str:
    return header + row * (SAMPLE_BYTES // len(row) + 1000)


def test_ragged_row_after_the_sample_names_its_row(tmp_path: Path) -> None:
    text = _past_the_sample("a,b,c\n", "1,2,3\n")
    n_rows = text.count("\n") - 1
    path = _write(tmp_path, "big.csv", (text + "1,2,3,4\n").encode())
    source = inspect_table(path, "big.csv")
    with pytest.raises(DataError, match=rf"Data row {n_rows + 1} of 'big.csv' has 4 fields"):
        list(iter_batches(path, source))


def test_mixed_values_after_the_sample_name_the_column(tmp_path: Path) -> None:
    path = _write(tmp_path, "big.csv", (_past_the_sample("a,b\n", "1,x\n") + "1.5,y\n").encode())
    source = inspect_table(path, "big.csv")
    with pytest.raises(DataError, match=r"Column 'a' .* whole numbers .* holds '1.5'"):
        list(iter_batches(path, source))


def test_undecodable_bytes_after_the_sample_ask_for_the_encoding(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "big.csv", (_past_the_sample("a,b\n", "1,x\n") + "2,é\n").encode("latin-1")
    )
    source = inspect_table(path, "big.csv")
    assert source.encoding == "utf-8"
    with pytest.raises(
        DataError, match=r"not valid utf-8 text after data row \d+ \(in 'b'\).*latin-1"
    ):
        list(iter_batches(path, source))


def test_jsonl_problems_after_the_sample_name_the_line(tmp_path: Path) -> None:
    text = _past_the_sample("", '{"a": 1, "b": "x"}\n')
    line = text.count("\n") + 1
    for extra, message in [
        ('{"a": 1, "c": 2}\n', rf"Line {line} has a field 'c'"),
        ('{"a": "one"}\n', rf"Field 'a' has mixed values: line {line} holds 'one'"),
    ]:
        path = _write(tmp_path, "big.jsonl", (text + extra).encode())
        source = inspect_table(path, "big.jsonl")
        with pytest.raises(DataError, match=message):
            list(iter_batches(path, source))


def _book(tmp_path: Path, rows: list[list[Any]]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    path = tmp_path / "book.xlsx"
    book.save(path)
    return path


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([], r"first sheet of 'book.xlsx' is empty"),
        ([["a", "b"]], r"header but no data rows"),
        ([["a", None, "c"], [1, 2, 3]], r"blank at column position\(s\) 2"),
        ([["a", "a"], [1, 2]], r"repeats 'a'"),
    ],
)
def test_bad_workbooks_are_refused(tmp_path: Path, rows: list[list[Any]], message: str) -> None:
    path = _book(tmp_path, rows)
    with pytest.raises(DataError, match=message):
        inspect_table(path, "book.xlsx")


def test_workbook_problems_in_later_rows_name_the_row(tmp_path: Path) -> None:
    path = _book(tmp_path, [["a", "b"], *[[i, "x"] for i in range(20)], ["oops", "y"]])
    source = inspect_table(path, "book.xlsx")
    with pytest.raises(DataError, match=r"Column 'a' .* whole numbers but row 22 holds 'oops'"):
        list(iter_batches(path, source, batch_rows=10))
    path = _book(tmp_path, [["a", "b"], *[[i, 2] for i in range(2500)], [3, 4, 5]])
    source = inspect_table(path, "book.xlsx")
    with pytest.raises(DataError, match=r"Row 2502 of 'book.xlsx' has a value in column C"):
        list(iter_batches(path, source))


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_csv_is_read_in_bounded_memory(tmp_path: Path) -> None:
    block = "".join(f'{i},{i * 0.25},name_{i % 97},"q, {i}"\n' for i in range(20_000)).encode()
    path = tmp_path / "big.csv"
    with path.open("wb") as f:
        f.write(b"id,x,name,q\n")
        for _ in range((200 << 20) // len(block)):
            f.write(block)
    source = inspect_table(path, "big.csv")
    baseline = _rss_bytes()
    peak_rss = peak_arrow = rows = 0
    for batch in iter_batches(path, source):
        rows += batch.num_rows
        peak_rss = max(peak_rss, _rss_bytes())
        peak_arrow = max(peak_arrow, pa.total_allocated_bytes())
    assert rows == (200 << 20) // len(block) * 20_000
    assert peak_arrow < 100 << 20
    assert peak_rss - baseline < 150 << 20


def test_export_neutralises_formulas_but_not_numbers() -> None:
    batch = pa.RecordBatch.from_pylist(
        [
            {"=name": "=1+2", "n": -1.5, "t": "+cmd", "u": "@SUM(A1)"},
            {"=name": "-2", "n": 3.0, "t": "\tx", "u": "\rx"},
            {"=name": "safe", "n": None, "t": "a=b", "u": None},
        ]
    )
    out = io.StringIO()
    write_csv_export([batch.slice(0, 2)], out)
    write_csv_export([batch.slice(2)], out, header=False)  # a stream, one batch at a time
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [
        ["'=name", "n", "t", "u"],
        ["'=1+2", "-1.5", "'+cmd", "'@SUM(A1)"],
        ["'-2", "3.0", "'\tx", "'\rx"],
        ["safe", "", "a=b", ""],
    ]
