"""Tabular files of every common kind: detected from their content, read in bounded memory."""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import io
import re
import zipfile
import zlib
from collections.abc import Generator, Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from jobs.engine.data import DELIMITERS, DataError
from jobs.engine.io.formats_common import (
    KIND_WORDS,
    SAMPLE_BYTES,
    ReadOptions,
    Record,
    TableSource,
    checked,
    numbered,
    stable_types,
)
from jobs.engine.io.formats_parquet import parquet_batches, parquet_metadata
from jobs.engine.io.formats_sheets import inspect_xlsx, jsonl_batches, jsonl_schema, xlsx_batches
from jobs.engine.io.limits import (
    MAX_COLUMNS,
    CountingReader,
    check_columns,
    check_unpacked,
)

__all__ = [
    "FORMATS",
    "SAMPLE_BYTES",
    "ReadOptions",
    "TableSource",
    "inspect_table",
    "iter_batches",
    "read_frame",
    "sniff_delimiter",
]

FORMATS = ("csv", "tsv", "csv.gz", "parquet", "jsonl", "xlsx")
FORMAT_NAMES = "CSV, TSV, gzip-compressed CSV, Parquet, JSON Lines or Excel .xlsx"
# Inspection stops at SAMPLE_BYTES of the (decompressed) start of a file, or this many rows.
SAMPLE_ROWS = 100_000
# Arrow's streaming CSV reader reads about 32 blocks ahead of its consumer, so its memory is
# about 40 x block_size whatever the file size; 1 MiB keeps that near 40 MB.
CSV_BLOCK_BYTES = 1 << 20
# A workbook is zipped XML; one that expands beyond this is a zip bomb, not a spreadsheet.
MAX_XLSX_EXPANDED = 2 << 30
# openpyxl holds every shared string in memory at once.
MAX_SHARED_STRINGS_BYTES = 256 << 20
# An XML part's prolog (where a DOCTYPE would be) ends before this many bytes.
MAX_XML_PROLOG_BYTES = 64 << 10
_BINARY_MAGIC = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"\xd0\xcf\x11\xe0", "an old-style Office file (.xls or .doc); save it as .xlsx or CSV"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"\x7fELF", "a program"),
)
_CONTAINERS = ("csv.gz", "parquet", "xlsx")
DETECT = ReadOptions()  # everything detected from the content
_QUOTING = "Check the quoting: a field holding the delimiter needs quotes, closed again."


def inspect_table(path: Path, filename: str, options: ReadOptions = DETECT) -> TableSource:
    """Detect how a file is written and check its start; raise DataError for unusable files.

    Empty strings in the options mean "detect", as None does.
    """
    wanted = options.format or None
    if wanted is not None and wanted not in FORMATS:
        raise DataError(f"Unknown format '{wanted}'. Choose one of: {', '.join(FORMATS)}.")
    delimiter = "\t" if options.delimiter in ("\\t", "tab") else options.delimiter or None
    if delimiter is not None and (len(delimiter) != 1 or delimiter in '"\r\n'):
        raise DataError(f"The delimiter must be one character, not a quote; got {delimiter!r}.")
    with path.open("rb") as f:
        head = f.read(8)
    if not head:
        raise DataError(f"'{filename}' is empty.")
    fmt = _container_format(path, filename, head, wanted)
    if fmt == "parquet":
        metadata = parquet_metadata(path, filename)
        if metadata.num_rows == 0:
            raise DataError(f"'{filename}' has columns but no data rows.")
        columns = metadata.schema.to_arrow_schema().names
        return checked(TableSource("parquet", None, None, True, columns), filename)
    if fmt == "xlsx":
        return inspect_xlsx(path, filename, options.header)
    raw, truncated = _raw_sample(path, fmt == "csv.gz", filename)
    encoding = _choose_encoding(raw, truncated, options.encoding or None, filename)
    text = _decode(raw, encoding, truncated, filename)
    if not text.strip():
        raise DataError(f"'{filename}' is empty (it holds only blank space).")
    first = text.lstrip()[:1]
    if first == "[" and filename.lower().endswith((".json", ".jsonl", ".ndjson")):
        raise DataError(
            f"'{filename}' is a JSON array; JSON Lines needs one object per line, e.g. "
            '{"a": 1, "b": "x"} on each line, without enclosing brackets.'
        )
    if fmt == "csv.gz" and first == "{":
        raise DataError(f"'{filename}' holds compressed JSON Lines; upload it uncompressed.")
    fmt = fmt or wanted or ("jsonl" if first == "{" else None)
    if fmt == "jsonl":
        columns = jsonl_schema(text, truncated, filename).names
        return checked(TableSource("jsonl", encoding, None, True, columns), filename)
    fmt = fmt or ("tsv" if filename.lower().endswith((".tsv", ".tab")) else "csv")
    _check_first_line_width(text, delimiter, filename)
    delimiter = delimiter or ("\t" if fmt == "tsv" else sniff_delimiter(text))
    if delimiter is None:
        raise DataError(
            f"'{filename}' does not look delimited: no comma, semicolon, tab or | splits its "
            "first line into columns. A table needs at least two columns; if another character "
            "separates them, choose it as the delimiter."
        )
    records = _sample_records(text, delimiter, truncated)
    _check_records(records, options.header, truncated, filename, delimiter)
    columns = records[0][1] if options.header else numbered(len(records[0][1]))
    return checked(TableSource(fmt, encoding, delimiter, options.header, columns), filename)


def _check_first_line_width(text: str, delimiter: str | None, filename: str) -> None:
    """Refuse a header too wide to use, by the delimiter given or any the sniffer would try.

    Before sniffing: the sniffer reads whole lines from the first 64 KB, and a line of
    100,000 columns is longer than that, which would read as "not delimited".
    """
    end = text.find("\n")
    first = text if end < 0 else text[:end]
    if len(first) < MAX_COLUMNS:
        return
    for candidate in [delimiter] if delimiter else DELIMITERS:
        check_columns(first.count(candidate) + 1, filename)


def sniff_delimiter(text: str) -> str | None:
    """The delimiter among , ; tab | that splits the first lines into the most regular columns."""
    head, cut = text[: 64 << 10], len(text) > 64 << 10
    best: tuple[float, int, int] | None = None
    chosen = None
    for rank, candidate in enumerate(DELIMITERS):
        rows = [fields for _, fields in _sample_records(head, candidate, cut)[:50]]
        if rows and len(rows[0]) > 1:
            width = len(rows[0])
            score = (sum(len(r) == width for r in rows) / len(rows), width, -rank)
            if best is None or score > best:
                best, chosen = score, candidate
    return chosen


def _container_format(path: Path, filename: str, head: bytes, wanted: str | None) -> str | None:
    """The format told by the first bytes, or None for text; refuses other binary files."""
    found = None
    if head.startswith(b"\x1f\x8b"):
        found = "csv.gz"
    elif head.startswith(b"PAR1"):
        found = "parquet"
    elif head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        if not _is_xlsx(path, filename):
            raise DataError(
                f"'{filename}' is a zip archive but not an Excel workbook (it has no xl/ "
                f"folder). Upload {FORMAT_NAMES}; image archives go to image datasets."
            )
        found = "xlsx"
    for magic, what in _BINARY_MAGIC:
        if head.startswith(magic):
            raise DataError(f"'{filename}' is {what}, not a table. Upload {FORMAT_NAMES}.")
    if wanted is not None and found != wanted and (found or wanted in _CONTAINERS):
        raise DataError(
            f"'{filename}' was given as {wanted} but its content is {found or 'a text file'}; "
            "choose the matching format, or leave the format empty to detect it."
        )
    return found


def _is_xlsx(path: Path, filename: str) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"'{filename}' is a damaged zip archive or workbook ({exc}).") from exc
    if sum(e.file_size for e in entries) > MAX_XLSX_EXPANDED:
        raise DataError(f"'{filename}' expands to over 2 GB; export it as CSV instead.")
    check_unpacked(
        sum(e.file_size for e in entries), sum(e.compress_size for e in entries), filename
    )
    if not any(e.filename.startswith("xl/") for e in entries):
        return False
    for entry in entries:
        if entry.filename == "xl/sharedStrings.xml" and entry.file_size > MAX_SHARED_STRINGS_BYTES:
            raise DataError(
                f"'{filename}' holds over {MAX_SHARED_STRINGS_BYTES >> 20} MB of distinct text "
                "(its shared strings); export it as CSV instead."
            )
    _check_xml_prologs(path, entries, filename)
    return True


def _check_xml_prologs(path: Path, entries: list[zipfile.ZipInfo], filename: str) -> None:
    """Refuse a workbook whose XML declares a DOCTYPE (entities, external references).

    A DOCTYPE may only come before an XML document's first element, so reading each part up
    to its first element is enough, however large the part.
    """
    with zipfile.ZipFile(path) as archive:
        for entry in entries:
            if not entry.filename.endswith((".xml", ".rels", ".vml")):
                continue
            try:
                with archive.open(entry) as part:
                    head = part.read(MAX_XML_PROLOG_BYTES)
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
                raise DataError(f"'{filename}' is a damaged Excel workbook ({exc}).") from exc
            root = re.search(rb"<[A-Za-z_]", head)
            prolog = head if root is None else head[: root.start()]
            if b"<!DOCTYPE" in prolog.upper() or b"<!ENTITY" in prolog.upper():
                raise DataError(
                    f"'{filename}' declares a DOCTYPE or entities in {entry.filename}, which "
                    "Excel never writes; refusing it. Save the sheet again from Excel, or as CSV."
                )
            if root is None and len(head) == MAX_XML_PROLOG_BYTES:
                raise DataError(
                    f"'{filename}' has no XML element in the first "
                    f"{MAX_XML_PROLOG_BYTES >> 10} KB of {entry.filename}; it is not a workbook."
                )


def _raw_sample(path: Path, gzipped: bool, filename: str) -> tuple[bytes, bool]:
    try:
        with gzip.open(path, "rb") if gzipped else path.open("rb") as f:
            raw = f.read(SAMPLE_BYTES + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"'{filename}' is a damaged or truncated gzip file ({exc}).") from exc
    if not raw:
        raise DataError(f"'{filename}' is empty.")
    if b"\x00" in raw and not raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        inside = " (inside the gzip file)" if gzipped else ""
        raise DataError(f"'{filename}' is a binary file{inside}, not a table of text.")
    return raw[:SAMPLE_BYTES], len(raw) > SAMPLE_BYTES


def _choose_encoding(raw: bytes, truncated: bool, given: str | None, filename: str) -> str:
    if given is not None:
        try:
            name = codecs.lookup(given).name
        except LookupError as exc:
            raise DataError(f"Unknown encoding '{given}' (try utf-8, latin-1 or cp1252).") from exc
        given = "utf-8-sig" if name == "utf-8" and raw.startswith(codecs.BOM_UTF8) else given
        _decode(raw, given, truncated, filename)
        return given
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    # cp1252 only where its extra characters (bytes 0x80-0x9f) occur; else Latin-1.
    for candidate in ("utf-8", "cp1252") if re.search(rb"[\x80-\x9f]", raw) else ("utf-8",):
        with contextlib.suppress(DataError):
            _decode(raw, candidate, truncated, filename)
            return candidate
    return "latin-1"


def _decode(raw: bytes, encoding: str, truncated: bool, filename: str) -> str:
    try:
        # Not final when the sample was cut: a character split at its end is not an error.
        return str(codecs.getincrementaldecoder(encoding)().decode(raw, final=not truncated))
    except UnicodeDecodeError as exc:
        raise DataError(
            f"'{filename}' is not valid {encoding} text: byte 0x{raw[exc.start]:02x} at offset "
            f"{exc.start} cannot be decoded. Choose the encoding it was saved in (often latin-1 "
            "or cp1252), or leave the encoding empty to detect it."
        ) from exc


def _sample_records(text: str, delimiter: str, truncated: bool) -> list[Record]:
    """Non-blank records of a sample with the line each starts on."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records: list[Record] = []
    start = 1
    with contextlib.suppress(csv.Error):  # a field over csv's size limit ends the sample there
        for fields in reader:
            if fields:
                records.append((start, fields))
            start = reader.line_num + 1
            if len(records) > SAMPLE_ROWS:
                truncated = True
                break
    return records[:-1] if truncated else records  # a cut may have left the last one short


def _check_records(
    records: list[Record], header: bool, truncated: bool, filename: str, delimiter: str
) -> None:
    if not records:
        raise DataError(
            f"'{filename}' has no complete row in its first {SAMPLE_BYTES >> 20} MB; a row "
            f"(and so a cell) may hold at most {CSV_BLOCK_BYTES >> 20} MB, or a quote is left "
            "open."
        )
    expected = len(records[0][1])
    if expected < 2:
        raise DataError(
            f"'{filename}' does not look delimited by {delimiter!r}: its first line is a single "
            "column. A table needs at least two columns; choose the right delimiter."
        )
    if header and len(records) == 1 and not truncated:
        raise DataError(f"'{filename}' has a header but no data rows.")
    for number, (line, fields) in enumerate(records[1:] if header else records, start=1):
        if len(fields) != expected:
            raise DataError(
                f"Data row {number} (line {line} of '{filename}') has {len(fields)} fields but "
                f"{'the header' if header else 'the first row'} has {expected}. {_QUOTING}"
            )


def iter_batches(
    path: Path, source: TableSource, batch_rows: int = 65_536
) -> Generator[pa.RecordBatch, None, None]:
    """Record batches of at most batch_rows rows, all with one schema, in bounded memory."""
    if source.format == "parquet":
        batches = parquet_batches(path, batch_rows)
    elif source.format == "jsonl":
        batches = jsonl_batches(path, source, _text_sample(path, source))
    elif source.format == "xlsx":
        batches = xlsx_batches(path, source, batch_rows)
    else:
        batches = _delimited_batches(path, source)
    for batch in batches:
        if batch.schema.names != source.columns:
            raise DataError(f"The columns of '{path.name}' changed since it was inspected.")
        for offset in range(0, batch.num_rows, batch_rows):
            yield batch.slice(offset, batch_rows)


def read_frame(path: Path, source: TableSource, max_rows: int | None = None) -> pd.DataFrame:
    batches: list[pa.RecordBatch] = []
    n = 0
    with contextlib.closing(iter_batches(path, source)) as stream:
        for batch in stream:
            if max_rows is not None and n + batch.num_rows >= max_rows:
                batches.append(batch.slice(0, max_rows - n))
                break
            batches.append(batch)
            n += batch.num_rows
    if not batches:
        return pd.DataFrame(columns=source.columns)
    return pa.Table.from_batches(batches).to_pandas()


def _text_sample(path: Path, source: TableSource) -> str:
    """The whole lines of the inspected sample."""
    raw, truncated = _raw_sample(path, source.format == "csv.gz", path.name)
    text = _decode(raw, source.encoding or "utf-8", truncated, path.name)
    return text[: text.rfind("\n") + 1] if truncated else text


def _delimited_batches(path: Path, source: TableSource) -> Iterator[pa.RecordBatch]:
    names = None if source.header else source.columns
    bad_rows: list[pacsv.InvalidRow] = []

    def parse(action: str) -> pacsv.ParseOptions:
        def handle(row: pacsv.InvalidRow) -> str:
            bad_rows.append(row)
            return action

        return pacsv.ParseOptions(
            delimiter=source.delimiter or ",", newlines_in_values=True, invalid_row_handler=handle
        )

    # Types come from the sample, where a row that the cut left short is skipped.
    try:
        sample = pacsv.read_csv(
            io.BytesIO(_text_sample(path, source).encode()),
            pacsv.ReadOptions(use_threads=False, column_names=names),
            parse("skip"),
            pacsv.ConvertOptions(strings_can_be_null=True),
        )
    except pa.ArrowInvalid as exc:
        raise DataError(f"The start of '{path.name}' cannot be read as a table: {exc}") from exc
    types = {f.name: f.type for f in stable_types(sample.schema)}
    convert = pacsv.ConvertOptions(strings_can_be_null=True, column_types=types)

    def batches(threaded: bool) -> Iterator[pa.RecordBatch]:
        read = pacsv.ReadOptions(
            use_threads=threaded,
            block_size=CSV_BLOCK_BYTES,
            # Arrow reads UTF-8 itself (skipping a BOM); other encodings go through codecs.
            encoding="utf8" if source.encoding in (None, "utf-8", "utf-8-sig") else source.encoding,
            column_names=names,
        )
        if source.format == "csv.gz":
            # Through Python's gzip, counted: a gzip bomb is refused as it unpacks.
            with gzip.open(path, "rb") as unpacked:
                counted = CountingReader(unpacked, path.stat().st_size, path.name)
                yield from pacsv.open_csv(counted, read, parse("error"), convert)
            return
        with pa.input_stream(str(path)) as stream:
            yield from pacsv.open_csv(stream, read, parse("error"), convert)

    # Parsing on Arrow's threads: on two cores the profile of a large CSV waits on the parse.
    rows = 0
    bad_rows.clear()
    try:
        for batch in batches(threaded=True):
            rows += batch.num_rows
            yield batch
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        # Threads do not tell which row was bad; reading again in order does, and only a
        # file that fails pays for it.
        rows_in_order = 0
        bad_rows.clear()
        try:
            for batch in batches(threaded=False):
                rows_in_order += batch.num_rows
        except (pa.ArrowInvalid, UnicodeDecodeError) as in_order:
            raise _csv_error(in_order, bad_rows, source, rows_in_order, path.name) from exc
        raise _csv_error(exc, [], source, rows, path.name) from exc


def _csv_error(
    exc: Exception, bad: list[pacsv.InvalidRow], source: TableSource, rows: int, name: str
) -> DataError:
    if bad:
        row = bad[0]
        where = f"Data row {row.number - source.header}" if row.number else "A row"
        return DataError(
            f"{where} of '{name}' has {row.actual_columns} fields but the file has "
            f"{row.expected_columns} columns: {row.text[:80]!r}. {_QUOTING}"
        )
    message = str(exc)
    column = re.search(r"column #(\d+)", message)
    label = repr(source.columns[int(column.group(1))]) if column else "a column"
    if isinstance(exc, UnicodeDecodeError) or "invalid UTF8" in message:
        return DataError(
            f"'{name}' is not valid {source.encoding or 'utf-8'} text after data row {rows} "
            f"(in {label}). Choose the encoding it was saved in, often latin-1 or cp1252."
        )
    conversion = re.search(r"conversion error to (\w+)(?:: invalid value '(.*)')?", message)
    if conversion:
        kind, value = conversion.groups()
        return DataError(
            f"Column {label} of '{name}' has mixed values: its first rows hold "
            f"{KIND_WORDS.get(kind, kind)} but a row after data row {rows} holds {value!r}. "
            "Make the column consistent."
        )
    if "straddling" in message:
        # Arrow parses whole rows within one block: a longer row (a huge cell, or a quote
        # left open that swallows the rest of the file) fails with this obscure message.
        return DataError(
            f"A row of '{name}' after data row {rows} is longer than "
            f"{CSV_BLOCK_BYTES >> 20} MB, the limit on one row (and so on one cell), or opens "
            "a quote that never closes."
        )
    return DataError(f"'{name}' could not be read after data row {rows}: {message}")
