"""Files for the load benchmark: a small honest table, and hostile files of every format the
console reads (issue 10's findings and their cousins). Each hostile file is small on the wire
and would be huge, deep or slow once unpacked or parsed."""

from __future__ import annotations

import gzip
import io
import struct
import zipfile
import zlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def table_csv(rows: int = 300, seed: int = 0) -> bytes:
    """Five numbers, a category and a binary label that depends on them."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=rows).round(3) for i in range(5)})
    frame["colour"] = rng.choice(["red", "green", "blue"], size=rows)
    score = frame.x0 - frame.x1 + (frame.colour == "red")
    frame["label"] = np.where(score + rng.normal(scale=0.3, size=rows) > 0, "yes", "no")
    return frame.to_csv(index=False).encode()


def _xlsx(shared_strings: str, sheet_rows: str, *, doctype: str = "") -> bytes:
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
            'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
            'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/worksheet" Target="worksheets/sheet1.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>'
        ),
        "xl/sharedStrings.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?>{doctype}'
            '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            f"{shared_strings}</sst>"
        ),
        "xl/worksheets/sheet1.xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            f"<sheetData>{sheet_rows}</sheetData></worksheet>"
        ),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return out.getvalue()


def xlsx_shared_string_bomb() -> bytes:
    """One 4 MB shared string used 1,500 times: 14 KB on the wire, 6 GB as cells."""
    strings = f"<si><t>{'A' * 4_000_000}</t></si>"
    rows = "".join(f'<row r="{r}"><c r="A{r}" t="s"><v>0</v></c></row>' for r in range(1, 1501))
    return _xlsx(strings, rows)


def xlsx_entity() -> bytes:
    """An internal DOCTYPE with an entity (billion laughs' first step)."""
    doctype = '<!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;">]>'
    return _xlsx(
        "<si><t>&b;</t></si>", '<row r="1"><c r="A1" t="s"><v>0</v></c></row>', doctype=doctype
    )


def parquet_string_bomb() -> bytes:
    """A million copies of a 4 KB string, dictionary-encoded and compressed: a few KB stored."""
    column = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(1_000_000, dtype=np.int32)), pa.array(["x" * 4096])
    )
    out = io.BytesIO()
    pq.write_table(pa.table({"text": column, "n": np.arange(1_000_000)}), out, compression="zstd")
    return out.getvalue()


def gzip_bomb() -> bytes:
    """A fine header, then a gigabyte of rows that compress a thousand to one."""
    rows = b"1,2\n" * (1 << 18)
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=6) as packed:
        packed.write(b"a,b\n")
        for _ in range(1000):
            packed.write(rows)
    return out.getvalue()


def _png(width: int, height: int) -> bytes:
    """A valid PNG header claiming `width` x `height`, with one tiny compressed row block."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\0" * (width + 1) * min(height, 64), 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def hostile_files() -> dict[str, bytes]:
    """Name (its extension is what the console sees) -> content."""
    return {
        "deep.jsonl": b'{"a": 1}\n{"a": ' + b"[" * 30_000 + b"]" * 30_000 + b"}\n",
        "wide.csv": ",".join(f"c{i}" for i in range(100_000)).encode()
        + b"\n"
        + b"1," * 99_999
        + b"1\n",
        "bomb.csv.gz": gzip_bomb(),
        "strings.xlsx": xlsx_shared_string_bomb(),
        "entity.xlsx": xlsx_entity(),
        "strings.parquet": parquet_string_bomb(),
        "garbage.parquet": b"PAR1" + bytes(range(256)) * 64 + b"PAR1",
        "binary.csv": bytes(range(256)) * 512,
        "traversal.zip": _zip({"../../evil/cat/a.png": _png(8, 8), "cat/b.png": _png(8, 8)}),
        "pixels.zip": _zip(
            {f"big/{i}.png": _png(60_000, 60_000) for i in range(2)}
            | {f"small/{i}.png": _png(8, 8) for i in range(2)}
        ),
        "zipbomb.zip": _zip({f"cat/{i}.png": b"\0" * 50_000_000 for i in range(4)}),
        "long-line.csv": b"a,b\n" + b"x" * 30_000_000 + b",1\n",
    }
