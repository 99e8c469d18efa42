"""Hostile tables, small on disk: each is refused with a reason while it is read, in a process
held to 1 GB of address space (a crash or a MemoryError there fails the test)."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]
LIMIT_BYTES = 1 << 30

# Reads the file as the profiler does (inspect, then every batch) under RLIMIT_AS, and says
# how it ended on its last line. It ends with os._exit, as the sandbox's child does: after a
# failed read Arrow's readahead may still be in flight, and a normal exit then waits on it
# forever in Arrow's thread-pool teardown (seen 4 times in 25 runs on a loaded machine).
_CHILD = """
import json, os, resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
from pathlib import Path
from jobs.engine.data import DataError
from jobs.engine.io.formats import inspect_table, iter_batches
path = Path(sys.argv[1])
try:
    source = inspect_table(path, path.name)
    rows = sum(batch.num_rows for batch in iter_batches(path, source))
    outcome = {{"rows": rows}}
except DataError as exc:
    outcome = {{"error": str(exc)}}
# VmHWM, not ru_maxrss: the latter keeps the forking parent's peak across exec.
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0]
outcome["max_rss_mb"] = int(hwm.split()[1]) // 1024
print(json.dumps(outcome), flush=True)
os._exit(0)
"""


def _read_in_child(path: Path) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD.format(limit=LIMIT_BYTES), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, f"the reader died ({done.returncode}): {done.stderr[-2000:]}"
    outcome: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    assert isinstance(outcome["max_rss_mb"], int)
    assert outcome["max_rss_mb"] < 1024
    print(path.name, outcome)  # the peak, for the record (pytest -s)
    return outcome


def _refused(path: Path, *words: str) -> None:
    outcome = _read_in_child(path)
    assert "error" in outcome, f"{path.name} was read: {outcome}"
    message = str(outcome["error"])
    for word in words:
        assert word in message, message


def test_a_deeply_nested_json_line_is_refused_not_a_crash(tmp_path: Path) -> None:
    deep = "[" * 30_000 + "]" * 30_000
    path = tmp_path / "deep.jsonl"
    path.write_text('{"a": 1, "b": 2}\n' + '{"a": ' + deep + ', "b": 3}\n')
    assert path.stat().st_size < 100_000
    _refused(path, "Line 2", "levels deep")


def test_a_gzip_bomb_is_refused_as_it_unpacks(tmp_path: Path) -> None:
    path = tmp_path / "bomb.csv.gz"
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(b"a,b\n")
        row = b"1,2\n" * (1 << 18)  # 1 MB
        for _ in range(200):
            out.write(row)
    assert path.stat().st_size < 1 << 20
    _refused(path, "compression bomb", "250 times")


def test_a_hundred_thousand_columns_are_refused_as_such_without_a_delimiter(
    tmp_path: Path,
) -> None:
    path = tmp_path / "wide.csv"
    header = ",".join(f"c{i}" for i in range(100_000))
    path.write_text(header + "\n" + ",".join("1" * 100_000) + "\n")
    _refused(path, "100,000 columns", "limit is 2,000")


def _xlsx(path: Path, value: str, cells: int) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["a", "b"])
    for _ in range(cells):
        sheet.append([value, 1])
    book.save(path)


def _shared_string_bomb(path: Path, plain: Path, value: str, cells: int) -> None:
    """A workbook whose sheet uses one shared string in every cell (openpyxl writes inline
    strings, which it cuts at 32,767 characters; Excel's shared strings it does not cut)."""
    rows = "".join(f'<row r="{r}"><c r="A{r}" t="s"><v>0</v></c></row>' for r in range(1, cells))
    sheet = (
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<sheetData>{rows}</sheetData></worksheet>"
    )
    strings = (
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" '
        f'uniqueCount="1"><si><t>{value}</t></si></sst>'
    )
    shared = (
        '<Relationship Id="rIdS" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>'
    )
    content = (
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats'
        '-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'
    )
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item).decode()
            if item.filename == "xl/worksheets/sheet1.xml":
                data = sheet
            elif item.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace("</Relationships>", shared)
            elif item.filename == "[Content_Types].xml":
                data = data.replace("</Types>", content)
            dst.writestr(item.filename, data)
        dst.writestr("xl/sharedStrings.xml", strings)


def test_one_long_shared_string_used_everywhere_is_refused(tmp_path: Path) -> None:
    plain = tmp_path / "plain.xlsx"
    _xlsx(plain, "hello", 3)
    path = tmp_path / "strings.xlsx"
    _shared_string_bomb(path, plain, "x" * 3_600_000, 1500)
    assert path.stat().st_size < 100_000
    _refused(path, "A1", "at most 32,767")


def test_a_workbook_with_a_doctype_is_refused(tmp_path: Path) -> None:
    plain = tmp_path / "plain.xlsx"
    _xlsx(plain, "hello", 3)
    path = tmp_path / "entities.xlsx"
    doctype = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>\n'
    )
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = doctype + data.split(b"?>", 1)[-1]
            dst.writestr(item, data)
    _refused(path, "DOCTYPE", "xl/worksheets/sheet1.xml")


def test_a_parquet_of_one_long_repeated_string_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "strings.parquet"
    long = pa.DictionaryArray.from_arrays(
        pa.array([0] * 4000, type=pa.int32()), pa.array(["y" * 900_000])
    )
    table = pa.table({"text": long, "n": pa.array(range(4000))})
    pq.write_table(table, path, compression="zstd")
    assert path.stat().st_size < 200_000
    _refused(path, "compression bomb")


def test_a_parquet_cell_over_the_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cell.parquet"
    table = pa.table({"text": ["z" * (2 << 20), "short"], "n": [1, 2]})
    pq.write_table(table, path, compression="zstd")
    _refused(path, "2,097,152 bytes", "'text'")


@pytest.mark.parametrize("name", ["fine.csv.gz", "fine.parquet", "fine.jsonl", "fine.xlsx"])
def test_ordinary_files_still_read_under_the_same_limit(tmp_path: Path, name: str) -> None:
    rows = [{"a": i, "b": f"text {i}", "c": {"d": [i, i]}} for i in range(5000)]
    path = tmp_path / name
    if name.endswith(".gz"):
        path.write_bytes(
            gzip.compress(b"a,b\n" + b"".join(b"%d,x%d\n" % (i, i) for i in range(5000)))
        )
    elif name.endswith(".parquet"):
        pq.write_table(pa.table({"a": list(range(5000)), "b": ["x"] * 5000}), path)
    elif name.endswith(".jsonl"):
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        _xlsx(path, "fine", 5000)
    assert _read_in_child(path).get("rows") == 5000, name


def test_json_depth_check_ignores_brackets_in_strings() -> None:
    from jobs.engine.io.limits import json_depth_error

    text = json.dumps({"a": "[" * 10_000, "b": "{" * 10_000}).encode()
    assert json_depth_error(text, 1, "f") is None
    assert json_depth_error(io.BytesIO(b"[" * 70).getvalue(), 1, "f") is not None


def _huge_cell_csv_gz(path: Path, header: bytes, before: bytes, after: bytes) -> None:
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(header + before)
        chunk = b"x" * (1 << 20)
        for _ in range(50):  # one 50 MB cell
            out.write(chunk)
        out.write(after)


def test_a_csv_cell_of_50_mb_is_refused_naming_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "cell.csv.gz"
    rows = b"".join(b"%d,short\n" % i for i in range(3000))
    _huge_cell_csv_gz(path, b"n,text\n", rows + b'3000,"', b'"\n3001,short\n')
    assert path.stat().st_size < 200_000
    _refused(path, "data row 3000", "1 MB")


def test_a_csv_whose_first_cell_is_50_mb_is_refused_naming_the_limit(tmp_path: Path) -> None:
    # Unquoted and in the first row: the inspection's sample is all one cell.
    path = tmp_path / "first.csv.gz"
    _huge_cell_csv_gz(path, b"n,text\n", b"1,", b"\n2,short\n")
    _refused(path, "1 MB")


def test_a_jsonl_string_of_50_mb_is_refused_naming_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "cell.jsonl"
    rows = "".join(json.dumps({"n": i, "text": "short"}) + "\n" for i in range(3000))
    path.write_text(rows + json.dumps({"n": 3000, "text": "y" * (50 << 20)}) + "\n")
    _refused(path, "Line 3001", "'text'", "1 MB")


def test_a_jsonl_string_inside_a_list_over_the_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nested.jsonl"
    rows = "".join(json.dumps({"n": i, "tags": ["a", "b"]}) + "\n" for i in range(2000))
    path.write_text(rows + json.dumps({"n": 1, "tags": ["a", "z" * (2 << 20)]}) + "\n")
    _refused(path, "2,097,152 bytes", "'tags'")
