"""JSON Lines and Excel workbooks, read in bounded memory into Arrow batches."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow as pa
import pyarrow.json as pajson
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from jobs.engine.data import DataError
from jobs.engine.io.formats_common import (
    KIND_TYPES,
    KIND_WORDS,
    SAMPLE_BYTES,
    Row,
    TableSource,
    checked,
    numbered,
    stable_types,
)
from jobs.engine.io.limits import (
    MAX_CELL_BYTES,
    MAX_CELL_CHARS,
    json_depth_error,
    oversized_cell,
)

JSONL_CHUNK_CHARS = 4 << 20
MAX_LINE_CHARS = 64 << 20
XLSX_SAMPLE_ROWS = 2000


def jsonl_schema(text: str, truncated: bool, filename: str = "the file") -> pa.Schema:
    whole = text[: text.rfind("\n") + 1] if truncated else text
    table = _read_json_chunk(whole, 1, None, filename)
    if table.num_rows == 0:
        raise DataError("The JSON Lines file holds no records.")
    return stable_types(table.schema)


def _read_json_chunk(
    text: str, first_line: int, schema: pa.Schema | None, filename: str
) -> pa.Table:
    data = text.encode()
    # Before any parser: Arrow's (and Python's) JSON readers recurse per level, and a value
    # nested some thousands deep crashes the process rather than raising.
    too_deep = json_depth_error(data, first_line, filename)
    if too_deep is not None:
        raise too_deep
    parse = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")
    read = pajson.ReadOptions(use_threads=False, block_size=max(len(data) + 1, 1 << 20))
    try:
        table = pajson.read_json(io.BytesIO(data), read, parse if schema else None)
    except pa.ArrowInvalid as exc:
        raise _jsonl_error(text, first_line, schema, exc) from exc
    too_long = oversized_cell(table)
    if too_long is not None:
        name, row, size = too_long
        where = f"Line {_record_line(text, first_line, row)}" if row is not None else "A line"
        raise DataError(
            f"{where} of '{filename}' holds a value of {size:,} bytes in field {name!r}; a "
            f"value may hold at most {MAX_CELL_BYTES >> 20} MB."
        )
    return table


def _record_line(text: str, first_line: int, row: int) -> int:
    """The line of the row-th record: Arrow skips blank lines, so count the others."""
    seen = -1
    for number, line in enumerate(text.splitlines(), start=first_line):
        seen += bool(line.strip())
        if seen == row:
            return number
    return first_line


def jsonl_batches(path: Path, source: TableSource, sample: str) -> Iterator[pa.RecordBatch]:
    """Batches of a JSON Lines file, typed by its inspected sample."""
    schema = jsonl_schema(sample, False, path.name)
    line, carry = 1, ""
    with path.open(encoding=source.encoding or "utf-8", newline="") as f:
        while True:
            try:
                block = f.read(JSONL_CHUNK_CHARS)
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"'{path.name}' is not valid {source.encoding} text after line {line}. "
                    "Choose the encoding it was saved in, often latin-1 or cp1252."
                ) from exc
            text = carry + block
            cut = text.rfind("\n") + 1 if block else len(text)
            if cut == 0 and len(text) > MAX_LINE_CHARS:
                raise DataError(f"Line {line} of '{path.name}' is longer than 64 MB.")
            chunk, carry = text[:cut], text[cut:]
            if chunk.strip():
                yield from _read_json_chunk(chunk, line, schema, path.name).to_batches()
            line += chunk.count("\n")
            if not block:
                return


def _jsonl_error(text: str, first_line: int, schema: pa.Schema | None, exc: Exception) -> DataError:
    """Find the line Arrow refused, which its own message does not name."""
    for number, line in enumerate(text.splitlines(), start=first_line):
        try:
            record = json.loads(line) if line.strip() else {}
        except json.JSONDecodeError as err:
            return DataError(f"Line {number} is not valid JSON: {err.msg} at column {err.colno}.")
        if not isinstance(record, dict):
            return DataError(f"Line {number} is not a JSON object; each line needs {{...}}.")
        if schema is None:
            continue
        for key, value in record.items():
            if key not in schema.names:
                return DataError(
                    f"Line {number} has a field {key!r} that no record in the first "
                    f"{SAMPLE_BYTES >> 20} MB has; give that field to an early record too."
                )
            arrow_type = schema.field(key).type
            if value is not None and not _json_fits(value, arrow_type):
                kind = KIND_WORDS.get(str(arrow_type), f"{arrow_type} values")
                return DataError(
                    f"Field {key!r} has mixed values: line {number} holds {value!r:.40} but "
                    f"earlier lines hold {kind}."
                )
    return DataError(f"The JSON Lines data could not be read: {exc}")


def _json_fits(value: Any, arrow_type: pa.DataType) -> bool:
    kind = {v: k for k, v in KIND_TYPES.items()}.get(arrow_type)
    if kind is not None:
        return _kind(value) == kind or (kind == "float" and _kind(value) == "int")
    try:
        pa.array([value], type=arrow_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return False
    return True


def _kind(value: Any) -> str:
    return {bool: "bool", int: "int", float: "float", str: "str"}.get(type(value), "other")


@contextlib.contextmanager
def _sheet_rows(path: Path, filename: str) -> Iterator[Iterator[Row]]:
    """Rows of the first worksheet with their spreadsheet row number, blank rows skipped."""
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise DataError(f"'{filename}' is a damaged Excel workbook: {exc}") from exc
    try:
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # the stored size is often wrong; read what is there
        rows = enumerate(sheet.iter_rows(values_only=True), start=1)
        # Error cells (#N/A, #DIV/0!) are missing values, as "#N/A" is in a CSV.
        yield (
            (n, [None if v in ERROR_CODES or v == "" else v for v in _capped(values, n, filename)])
            for n, values in rows
            if any(v is not None and v != "" for v in values)
        )
    except (SyntaxError, KeyError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise DataError(f"'{filename}' is a damaged Excel workbook: {exc}") from exc
    finally:
        book.close()


def _capped(values: tuple[Any, ...], row: int, filename: str) -> tuple[Any, ...]:
    """The row, unless a cell is longer than Excel allows: a workbook whose one long shared
    string is used in every cell is small on disk but expands once per cell when read."""
    for column, value in enumerate(values, start=1):
        if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
            raise DataError(
                f"Cell {get_column_letter(column)}{row} of '{filename}' holds {len(value):,} "
                f"characters; a cell may hold at most {MAX_CELL_CHARS:,}."
            )
    return values


def inspect_xlsx(path: Path, filename: str, header: bool) -> TableSource:
    with _sheet_rows(path, filename) as rows:
        sample = [values for _, (_, values) in zip(range(XLSX_SAMPLE_ROWS), rows, strict=False)]
    if not sample:
        raise DataError(f"The first sheet of '{filename}' is empty.")
    if header and len(sample) == 1:
        raise DataError(f"The first sheet of '{filename}' has a header but no data rows.")
    width = max(_width(row) for row in sample)
    if not header:
        return checked(TableSource("xlsx", None, None, False, numbered(width)), filename)
    columns = ["" if v is None else _text(v) for v in sample[0][:width]]
    columns += [""] * (width - len(columns))
    return checked(TableSource("xlsx", None, None, True, columns), filename)


def _width(row: list[Any]) -> int:
    return max((i + 1 for i, v in enumerate(row) if v is not None), default=0)


def _text(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date | dt.time) else str(value)


def xlsx_batches(path: Path, source: TableSource, batch_rows: int) -> Iterator[pa.RecordBatch]:
    width = len(source.columns)
    schema: pa.Schema | None = None
    buffer: list[Row] = []
    with _sheet_rows(path, path.name) as rows:
        if source.header:
            next(rows, None)  # its names are already known
        for number, values in rows:
            if _width(values) > width:
                raise DataError(
                    f"Row {number} of '{path.name}' has a value in column "
                    f"{get_column_letter(_width(values))}, beyond the {width} named columns."
                )
            buffer.append((number, values + [None] * (width - len(values))))
            if len(buffer) == batch_rows:
                schema = schema or _xlsx_schema(source.columns, buffer)
                yield _xlsx_batch(buffer, schema, path.name)
                buffer = []
        if buffer:
            yield _xlsx_batch(buffer, schema or _xlsx_schema(source.columns, buffer), path.name)


def _xlsx_schema(columns: list[str], rows: list[Row]) -> pa.Schema:
    """Types from the first batch: a column of one kind keeps it, mixed numbers are floats."""
    fields = []
    for i, name in enumerate(columns):
        kinds = {_kind(values[i]) for _, values in rows if values[i] is not None}
        kind = "float" if kinds == {"int", "float"} else kinds.pop() if len(kinds) == 1 else "str"
        fields.append((name, KIND_TYPES.get(kind, pa.string())))
    return pa.schema(fields)


def _xlsx_batch(rows: list[Row], schema: pa.Schema, name: str) -> pa.RecordBatch:
    arrays = []
    for i, field in enumerate(schema):
        kind = {v: k for k, v in KIND_TYPES.items()}[field.type]
        column = []
        for number, values in rows:
            value = values[i]
            found = _kind(value)
            if value is None or kind == found or (kind, found) == ("float", "int"):
                column.append(value)
            elif kind == "str":
                column.append(_text(value))
            elif kind == "int" and found == "float" and float(value).is_integer():
                column.append(int(value))
            else:
                raise DataError(
                    f"Column {field.name!r} of '{name}' has mixed values: its first rows hold "
                    f"{KIND_WORDS.get(str(field.type), 'text')} but row {number} holds "
                    f"{value!r:.40}. Make the column consistent."
                )
        arrays.append(pa.array(column, type=field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
