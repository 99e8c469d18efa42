"""Image datasets from zip archives, opened defensively: members are read, never extracted."""

from __future__ import annotations

import csv
import io
import math
import re
import stat
import struct
import warnings
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from jobs.engine.data import DataError
from jobs.engine.io.formats import sniff_delimiter

IMAGE_FORMATS = ("PNG", "JPEG", "WEBP")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
# Refused per image with a reason, rather than ignored like a README would be.
OTHER_IMAGE_SUFFIXES = (".gif", ".bmp", ".tif", ".tiff", ".heic", ".avif", ".ico")
MAX_LABELS_CSV_BYTES = 64 << 20
# Below this size an entry cannot be a bomb by itself, and small text compresses very well.
_RATIO_MIN_BYTES = 1 << 20
_IGNORED_NAMES = ("thumbs.db", "desktop.ini")


class ImageError(DataError):
    """One image cannot be used; the dataset around it may still be."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"The image {name!r} cannot be used: {reason}")
        self.name = name
        self.reason = reason


@dataclass(frozen=True)
class ImageLimits:
    max_files: int = 200_000
    max_total_uncompressed: int = 8 << 30
    max_ratio: float = 200.0
    max_image_pixels: int = 50_000_000
    max_image_bytes: int = 256 << 20


@dataclass
class ImageDatasetSummary:
    layout: str  # "folders" (<class>/<image>) or "csv" (images and a CSV of labels or values)
    task: str  # "classification" or "regression"
    n_images: int  # readable images only
    classes: dict[str, int]
    sizes: dict[str, int]  # the 20 most common "WxH"
    modes: dict[str, int]
    formats: dict[str, int]
    unreadable: list[dict[str, str]]
    min_width: int = 0
    max_width: int = 0
    min_height: int = 0
    max_height: int = 0
    value_min: float | None = None  # regression targets of the readable images
    value_max: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ImageLayout:
    layout: str
    task: str
    items: list[tuple[str, str | float]]  # (archive member, class name or target value)
    unreadable: list[dict[str, str]] = field(default_factory=list)


def inspect_image_zip(
    path: Path,
    limits: ImageLimits = ImageLimits(),
    progress: Callable[[int, int], None] | None = None,
) -> ImageDatasetSummary:
    """Check an uploaded archive and every image in it; raise DataError if it is unusable."""
    entries = _declared_entries(path)
    if entries is not None and entries > limits.max_files:
        raise DataError(_too_many(entries, limits))
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DataError(f"The upload is not a zip archive ({exc}); zip the image folder.") from exc
    with archive:
        layout = read_layout(archive, limits)
        summary = ImageDatasetSummary(
            layout.layout, layout.task, 0, {}, {}, {}, {}, list(layout.unreadable)
        )
        sizes: Counter[str] = Counter()
        classes: Counter[str] = Counter()
        values: list[float] = []
        widths: list[int] = []
        heights: list[int] = []
        for done, (name, target) in enumerate(layout.items, start=1):
            try:
                with open_image(archive, name, limits) as image:
                    fmt = "JPEG" if image.format == "MPO" else str(image.format)
                    summary.formats[fmt] = summary.formats.get(fmt, 0) + 1
                    summary.modes[image.mode] = summary.modes.get(image.mode, 0) + 1
                    sizes[f"{image.width}x{image.height}"] += 1
                    widths.append(image.width)
                    heights.append(image.height)
            except ImageError as exc:
                summary.unreadable.append({"name": name, "reason": exc.reason})
            else:
                if isinstance(target, float):
                    values.append(target)
                else:
                    classes[target] += 1
            if progress is not None:
                progress(done, len(layout.items))
    if not widths:
        examples = "; ".join(f"{u['name']}: {u['reason']}" for u in summary.unreadable[:3])
        raise DataError(f"None of the {len(layout.items)} images could be read ({examples}).")
    if layout.task == "classification" and len(classes) < 2:
        raise DataError(
            f"Only class {next(iter(classes))!r} has readable images; classification needs "
            "at least two classes."
        )
    summary.n_images = len(widths)
    summary.classes = dict(sorted(classes.items()))
    summary.sizes = dict(sizes.most_common(20))
    summary.min_width, summary.max_width = min(widths), max(widths)
    summary.min_height, summary.max_height = min(heights), max(heights)
    if values:
        summary.value_min, summary.value_max = min(values), max(values)
    return summary


def read_layout(archive: zipfile.ZipFile, limits: ImageLimits = ImageLimits()) -> ImageLayout:
    """The images of a checked archive with their class or value; decodes no image."""
    members = _checked_members(archive, limits)
    names = _strip_common_folder(list(members))
    files = {short: members[name] for name, short in names.items()}
    tables = sorted(n for n in files if "/" not in n and n.lower().endswith(".csv"))
    if len(tables) > 1:
        raise DataError(
            f"The archive has several CSV files at its root ({', '.join(tables)}); keep one: "
            "the CSV that lists filename,label or filename,value."
        )
    if tables:
        return _csv_layout(archive, files, tables[0])
    items: list[tuple[str, str | float]] = []
    outside = []
    for short, member in sorted(files.items()):
        if "/" in short:
            items.append((member.filename, short.split("/", 1)[0]))
        elif short.lower().endswith(IMAGE_SUFFIXES + OTHER_IMAGE_SUFFIXES):
            reason = "outside any class folder; put it in the folder named after its class"
            outside.append({"name": member.filename, "reason": reason})
    if not items:
        raise DataError(
            "The archive holds no images in class folders. Arrange PNG, JPEG or WebP images "
            "as <class>/<image> (e.g. cats/1.jpg, dogs/2.jpg), or add a labels CSV at the root."
        )
    classes = sorted({str(label) for _, label in items})
    if len(classes) < 2:
        raise DataError(
            f"All images are in the single folder {classes[0]!r}; classification needs at "
            "least two classes, one folder each (e.g. cats/1.jpg, dogs/2.jpg)."
        )
    return ImageLayout("folders", "classification", items, outside)


def open_image(zf: zipfile.ZipFile, name: str, limits: ImageLimits) -> Image.Image:
    """A fully decoded image from an archive member; ImageError says why one cannot be used.

    The image keeps its own mode (L, RGB, RGBA, P...); converting it is the caller's choice.
    """
    return decode_image(_image_bytes(zf, name, limits), name, limits)


def _image_bytes(zf: zipfile.ZipFile, name: str, limits: ImageLimits) -> bytes:
    """An archive member's bytes, refused before reading when it declares too many."""
    try:
        info = zf.getinfo(name)
    except KeyError as exc:
        raise ImageError(name, "it is not in the archive.") from exc
    if info.file_size > limits.max_image_bytes:
        raise ImageError(name, f"{_size(info.file_size)}, over {_size(limits.max_image_bytes)}.")
    return _read_member(zf, info, limits.max_image_bytes)


def decode_image(data: bytes, name: str, limits: ImageLimits) -> Image.Image:
    """Bytes decoded as `open_image` does: accepted formats only, the pixel limit checked on
    the header before anything is decoded, then verified and loaded."""
    if len(data) > limits.max_image_bytes:
        raise ImageError(name, f"{_size(len(data))}, over {_size(limits.max_image_bytes)}.")
    image = _identify(data, name)
    if image.width * image.height > limits.max_image_pixels:
        image.close()
        raise ImageError(
            name,
            f"{image.width}x{image.height} is {image.width * image.height:,} pixels, over the "
            f"limit of {limits.max_image_pixels:,} (a decompression bomb, or far too large).",
        )
    try:
        # verify() checks what loading does not (PNG checksums) but leaves the image unusable.
        image.verify()
        image = _identify(data, name)
        image.load()
    except Exception as exc:  # Pillow's decoders raise many types on malformed data
        image.close()
        raise ImageError(name, f"damaged or truncated {image.format} image: {exc}") from exc
    return image


def peek_image(zf: zipfile.ZipFile, name: str, limits: ImageLimits) -> tuple[int, int, str]:
    """Width, height and mode from an archive member's header, without decoding its pixels."""
    with _identify(_image_bytes(zf, name, limits), name) as image:
        if image.width * image.height > limits.max_image_pixels:
            raise ImageError(
                name, f"{image.width}x{image.height} pixels, over {limits.max_image_pixels:,}."
            )
        return image.width, image.height, image.mode


def check_image_target(
    summary: dict[str, Any], target: str, task_type: str | None
) -> tuple[str, str]:
    """The target and task type of a job on a profiled image archive; DataError otherwise.

    The target is implied by the archive: `label` for classes (folders or filename,label),
    `value` for numbers (filename,value).
    """
    regression = summary.get("task") == "regression"
    implied = "value" if regression else "label"
    if target and target != implied:
        what = "a number (filename,value)" if regression else "a class"
        raise DataError(
            f"An image dataset's target is implied: each image has {what}, so the target is "
            f"'{implied}'; leave it empty or send '{implied}', not '{target}'."
        )
    classes: dict[str, int] = summary.get("classes") or {}
    if regression:
        chosen = task_type or "regression"
        if chosen != "regression":
            raise DataError(
                f"This archive gives each image a number (filename,value): its task is "
                f"regression, not {chosen}. For classes, use folders or filename,label."
            )
    else:
        chosen = task_type or ("binary" if len(classes) == 2 else "multiclass")
        if chosen == "regression":
            raise DataError(
                "This archive gives each image a class; regression needs a CSV of "
                "filename,value with a number per image."
            )
        if chosen not in ("binary", "multiclass"):
            raise DataError(
                f"Image datasets train binary, multiclass or regression models, not {chosen}."
            )
        if chosen == "binary" and len(classes) != 2:
            raise DataError(
                f"A binary task needs exactly two classes; the archive has {len(classes)}. "
                "Choose multiclass."
            )
        single = [name for name, count in classes.items() if count < 2]
        if single:
            raise DataError(
                f"Class {single[0]!r} has a single readable image; each class needs at least "
                "two to be split into training and test data."
            )
    if int(summary.get("n_images") or 0) < 10:
        raise DataError(
            f"The archive has {summary.get('n_images') or 0} readable images; training needs "
            "at least 10."
        )
    return implied, chosen


def _identify(data: bytes, name: str) -> Image.Image:
    """Open (not decode) an image of an accepted format."""
    try:
        with warnings.catch_warnings():
            # The size check that follows is ours, with our limit; Pillow's warning is noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
    except Image.DecompressionBombError as exc:
        raise ImageError(name, f"a decompression bomb: {exc}") from exc
    except UnidentifiedImageError:
        pass
    except Exception as exc:  # a malformed header can fail in many ways inside a plugin
        raise ImageError(name, f"damaged or truncated image header: {exc}") from exc
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            other = Image.open(io.BytesIO(data)).format
    except Exception:  # only naming the format failed; the file is refused either way
        other = None
    if other:
        raise ImageError(name, f"unsupported format {other}; use PNG, JPEG or WebP.")
    raise ImageError(name, "not an image (not PNG, JPEG or WebP data).")


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes:
    """The member's bytes, never more than its declared size, which may be a lie."""
    try:
        with zf.open(info) as member:
            data = member.read(min(info.file_size, cap) + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        raise ImageError(info.filename, f"the archive entry is damaged ({exc}).") from exc
    if len(data) > info.file_size:
        raise ImageError(info.filename, "the archive entry holds more data than it declares.")
    return data


def _declared_entries(path: Path) -> int | None:
    """The entry count from the end record, read before zipfile parses every entry."""
    with path.open("rb") as f:
        size = f.seek(0, 2)
        f.seek(max(0, size - (1 << 16) - 22))
        tail = f.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < 22:
            return None
        count: int = struct.unpack("<H", tail[at + 10 : at + 12])[0]
        if count == 0xFFFF and at >= 20 and tail[at - 20 : at - 16] == b"PK\x06\x07":
            f.seek(struct.unpack("<Q", tail[at - 12 : at - 4])[0])
            record = f.read(40)
            if record[:4] == b"PK\x06\x06" and len(record) == 40:
                count = struct.unpack("<Q", record[32:40])[0]
        return count


def _too_many(count: int, limits: ImageLimits) -> str:
    return f"The archive has {count:,} entries; the limit is {limits.max_files:,} images."


def _checked_members(archive: zipfile.ZipFile, limits: ImageLimits) -> dict[str, zipfile.ZipInfo]:
    """Refuse unsafe or oversized archives; return the files that may be data."""
    infos = archive.infolist()
    if len(infos) > limits.max_files:
        raise DataError(_too_many(len(infos), limits))
    for info in infos:
        problem = _unsafe(info)
        if problem:
            raise DataError(
                f"The archive entry {info.filename!r} {problem}. Such archives are refused; "
                "zip a plain folder of images again."
            )
        if info.file_size >= _RATIO_MIN_BYTES and _ratio(info.file_size, info) > limits.max_ratio:
            raise DataError(
                f"The archive entry {info.filename!r} expands {_ratio(info.file_size, info):.0f} "
                f"times (over {limits.max_ratio:.0f}); it looks like a zip bomb."
            )
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    if total > limits.max_total_uncompressed:
        raise DataError(
            f"The archive expands to {_size(total)}, over the limit of "
            f"{_size(limits.max_total_uncompressed)}; upload fewer or smaller images."
        )
    if total >= _RATIO_MIN_BYTES and total / max(packed, 1) > limits.max_ratio:
        raise DataError(
            f"The archive expands {total / max(packed, 1):.0f} times (over "
            f"{limits.max_ratio:.0f}); it looks like a zip bomb."
        )
    return {i.filename: i for i in infos if not i.is_dir() and not _ignored(i.filename)}


def _size(n: int) -> str:
    return f"{n / (1 << 30):.1f} GB" if n >= 1 << 30 else f"{n / (1 << 20):.1f} MB"


def _ratio(size: int, info: zipfile.ZipInfo) -> float:
    return size / max(info.compress_size, 1)


def _unsafe(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    if "\\" in name:
        return "contains a backslash"
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        return "is an absolute path"
    if ".." in name.split("/"):
        return "has a '..' component that points outside the archive"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "is a symbolic link"
    if info.flag_bits & 0x1:
        return "is encrypted (password protected)"
    return None


def _ignored(name: str) -> bool:
    parts = name.split("/")
    return (
        parts[0] == "__MACOSX"
        or any(p.startswith(".") for p in parts)
        or parts[-1].lower() in _IGNORED_NAMES
    )


def _strip_common_folder(names: list[str]) -> dict[str, str]:
    """Map names to names without the one folder that often wraps a whole dataset."""
    tops = {n.split("/", 1)[0] for n in names}
    if len(tops) == 1 and all("/" in n for n in names):
        inner = [n.split("/", 1)[1] for n in names]
        # Stripped only when what is inside still has class folders or the labels CSV.
        if all("/" in n for n in inner) or any(n.lower().endswith(".csv") for n in inner):
            return dict(zip(names, inner, strict=True))
    return {n: n for n in names}


def _csv_layout(
    archive: zipfile.ZipFile, files: dict[str, zipfile.ZipInfo], table: str
) -> ImageLayout:
    info = files[table]
    if info.file_size > MAX_LABELS_CSV_BYTES:
        raise DataError(f"The labels CSV {table!r} is over {MAX_LABELS_CSV_BYTES >> 20} MB.")
    try:
        raw = _read_member(archive, info, MAX_LABELS_CSV_BYTES)
    except ImageError as exc:
        raise DataError(f"The labels CSV {table!r} cannot be read: {exc.reason}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text) or ","))
    header = [h.strip().lower() for h in rows[0]] if rows else []
    kinds = [k for k in ("label", "value") if k in header]
    if "filename" not in header or len(kinds) != 1:
        raise DataError(
            f"The labels CSV {table!r} needs the header filename,label (classification) or "
            f"filename,value (regression); its header is {','.join(rows[0]) if rows else 'empty'}."
        )
    name_at, target_at = header.index("filename"), header.index(kinds[0])
    items: list[tuple[str, str | float]] = []
    problems: dict[str, list[str]] = {"missing": [], "blank": [], "number": [], "twice": []}
    seen: set[str] = set()
    full = {m.filename: m for m in files.values()}
    for number, row in enumerate(rows[1:], start=1):
        if not any(cell.strip() for cell in row):
            continue
        cells = row + [""] * (len(header) - len(row))
        name = cells[name_at].strip().replace("\\", "/").removeprefix("./")
        target: str | float = cells[target_at].strip()
        member = files.get(name) or full.get(name)  # relative to the CSV, or to the root
        if member is None:
            problems["missing"].append(f"{name!r} (row {number})")
        elif name in seen:
            problems["twice"].append(f"{name!r} (row {number})")
        if not target:
            problems["blank"].append(f"row {number}")
        elif kinds[0] == "value":
            try:
                target = float(target)
            except ValueError:
                target = math.nan
            if not math.isfinite(target):
                problems["number"].append(f"row {number} ({cells[target_at].strip()!r})")
        seen.add(name)
        if member is not None:
            items.append((member.filename, target))
    _refuse_problems(table, problems, kinds[0])
    if not items:
        raise DataError(f"The labels CSV {table!r} lists no images.")
    task = "regression" if kinds[0] == "value" else "classification"
    if task == "classification" and len({label for _, label in items}) < 2:
        raise DataError(
            f"Every image in {table!r} has the label {items[0][1]!r}; classification needs "
            "at least two classes."
        )
    return ImageLayout("csv", task, items)


def _refuse_problems(table: str, problems: dict[str, list[str]], kind: str) -> None:
    messages = {
        "missing": "names files that are not in the archive",
        "blank": f"has rows without a {kind}",
        "number": "has values that are not finite numbers",
        "twice": "names the same file twice",
    }
    for key, found in problems.items():
        if found:
            more = f" and {len(found) - 5} more" if len(found) > 5 else ""
            raise DataError(
                f"The labels CSV {table!r} {messages[key]}: {', '.join(found[:5])}{more}."
            )
