"""Image archives: both layouts summarised, unsafe archives refused before anything is read."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from jobs.engine.data import DataError
from jobs.engine.io.images import ImageError, ImageLimits, inspect_image_zip, open_image


def _image(fmt: str = "PNG", size: tuple[int, int] = (8, 6), mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color=1 if mode in ("1", "P") else 0).save(buffer, format=fmt)
    return buffer.getvalue()


def _zip(path: Path, entries: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def _two_classes(top: str = "pets/") -> dict[str, bytes]:
    return {
        f"{top}cats/a.png": _image("PNG", (8, 6), "RGB"),
        f"{top}cats/b.png": _image("PNG", (8, 6), "P"),
        f"{top}cats/c.jpg": _image("JPEG", (16, 9), "L"),
        f"{top}dogs/a.webp": _image("WEBP", (8, 6), "RGBA"),
        f"{top}dogs/b.PNG": _image("PNG", (30, 20), "RGBA"),
    }


def test_folder_layout_is_summarised(tmp_path: Path) -> None:
    entries = {
        **_two_classes(),
        "__MACOSX/pets/cats/._a.png": b"resource fork",
        "pets/.DS_Store": b"finder",
        "pets/cats/.hidden.png": b"not looked at",
    }
    calls: list[tuple[int, int]] = []
    summary = inspect_image_zip(
        _zip(tmp_path / "pets.zip", entries), progress=lambda d, t: calls.append((d, t))
    )
    assert (summary.layout, summary.task, summary.n_images) == ("folders", "classification", 5)
    assert summary.classes == {"cats": 3, "dogs": 2}
    assert summary.sizes == {"8x6": 3, "16x9": 1, "30x20": 1}
    assert summary.modes == {"RGB": 1, "P": 1, "L": 1, "RGBA": 2}
    assert summary.formats == {"PNG": 3, "JPEG": 1, "WEBP": 1}
    assert (summary.min_width, summary.max_width, summary.min_height, summary.max_height) == (
        8,
        30,
        6,
        20,
    )
    assert summary.unreadable == []
    assert calls[-1] == (5, 5)
    assert summary.to_dict()["classes"] == {"cats": 3, "dogs": 2}


def test_csv_layout_classification_and_regression(tmp_path: Path) -> None:
    images = {f"img/{i}.png": _image("PNG", (4 + i, 4)) for i in range(4)}
    labels = "filename,label\nimg/0.png,ok\nimg/1.png,bad\nimg/2.png,ok\n"
    summary = inspect_image_zip(_zip(tmp_path / "c.zip", {**images, "labels.csv": labels.encode()}))
    assert (summary.layout, summary.task, summary.n_images) == ("csv", "classification", 3)
    assert summary.classes == {"bad": 1, "ok": 2}

    values = "\ufefffilename;value\nimg/0.png;1.5\nimg/1.png;-2\n./img/3.png;10\n"
    summary = inspect_image_zip(_zip(tmp_path / "r.zip", {**images, "y.csv": values.encode()}))
    assert (summary.task, summary.n_images, summary.classes) == ("regression", 3, {})
    assert (summary.value_min, summary.value_max) == (-2.0, 10.0)


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (
            "filename,label\na.png,x\nmissing.png,y\n",
            r"names files that are not in the archive: "
            r"'missing.png' \(row 2\)",
        ),
        ("filename,label\na.png,x\nb.png,\n", r"has rows without a label: row 2"),
        ("filename,value\na.png,1\nb.png,tall\n", r"not finite numbers: row 2 \('tall'\)"),
        ("name,label\na.png,x\n", r"needs the header filename,label .* its header is name,label"),
        ("filename,label\na.png,x\nb.png,x\n", r"label 'x'; classification needs at least two"),
        ("filename,label\n", r"lists no images"),
    ],
)
def test_bad_labels_csv_is_refused(tmp_path: Path, labels: str, message: str) -> None:
    entries = {"a.png": _image(), "b.png": _image(), "labels.csv": labels.encode()}
    with pytest.raises(DataError, match=message):
        inspect_image_zip(_zip(tmp_path / "d.zip", entries))


def test_per_image_problems_are_listed_not_fatal(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.effect_noise((256, 256), 64).convert("RGB").save(buffer, format="JPEG")
    jpeg = buffer.getvalue()
    bomb = _image("PNG", (10_000, 10_000), "1")  # 100 megapixels in a few kilobytes
    entries = {
        **_two_classes(top=""),
        "cats/cut.jpg": jpeg[: len(jpeg) // 2],
        "cats/bomb.png": bomb,
        "dogs/notes.png": b"these are words, not pixels",
        "dogs/anim.gif": _image("GIF"),
        "stray.png": _image(),
    }
    summary = inspect_image_zip(_zip(tmp_path / "p.zip", entries))
    reasons = {u["name"]: u["reason"] for u in summary.unreadable}
    assert set(reasons) == {
        "cats/cut.jpg",
        "cats/bomb.png",
        "dogs/notes.png",
        "dogs/anim.gif",
        "stray.png",
    }
    assert "damaged or truncated JPEG image: image file is truncated" in reasons["cats/cut.jpg"]
    assert "100,000,000 pixels, over the limit of 50,000,000" in reasons["cats/bomb.png"]
    assert "not an image" in reasons["dogs/notes.png"]
    assert "unsupported format GIF" in reasons["dogs/anim.gif"]
    assert "outside any class folder" in reasons["stray.png"]
    assert summary.n_images == 5


def test_a_member_larger_than_it_declares_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "lie.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in _two_classes().items():
            archive.writestr(name, data)
        archive.getinfo("pets/cats/a.png").file_size = 10  # the central directory now lies
    summary = inspect_image_zip(path)
    assert summary.unreadable[0]["name"] == "pets/cats/a.png"
    assert "damaged" in summary.unreadable[0]["reason"]


def test_open_image_returns_a_decoded_image() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a/x.webp", _image("WEBP", (5, 7), "RGB"))
    with zipfile.ZipFile(buffer) as archive:
        image = open_image(archive, "a/x.webp", ImageLimits())
        assert (image.format, image.size) == ("WEBP", (5, 7))
        assert image.convert("L").getpixel((0, 0)) == 0
        with pytest.raises(
            ImageError, match=r"image .a/x.webp. cannot be used: .* over the limit of 10"
        ):
            open_image(archive, "a/x.webp", ImageLimits(max_image_pixels=10))


def _entries_with(name: str, data: bytes = b"x") -> dict[str, bytes]:
    return {**_two_classes(), name: data}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../evil.png", r"'\.\./evil\.png' has a '\.\.' component"),
        ("pets/cats/../../../evil.png", r"has a '\.\.' component"),
        ("/tmp/evil.png", r"'/tmp/evil\.png' is an absolute path"),
        ("C:/evil.png", r"is an absolute path"),
        ("pets\\cats\\evil.png", r"contains a backslash"),
    ],
)
def test_unsafe_paths_are_refused_and_nothing_is_written(
    tmp_path: Path, name: str, message: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    path = _zip(work / "evil.zip", _entries_with(name, _image()))
    with pytest.raises(DataError, match=message):
        inspect_image_zip(path)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["evil.zip", "work"]
    assert not Path("/tmp/evil.png").exists()
    assert not (tmp_path.parent / "evil.png").exists()


def test_symlink_and_encrypted_entries_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in _two_classes().items():
            archive.writestr(name, data)
        link = zipfile.ZipInfo("pets/cats/passwd.png")
        link.external_attr = 0o120777 << 16
        archive.writestr(link, "/etc/passwd")
    with pytest.raises(DataError, match=r"'pets/cats/passwd.png' is a symbolic link"):
        inspect_image_zip(path)

    path = tmp_path / "locked.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in _two_classes().items():
            archive.writestr(name, data)
        archive.getinfo("pets/dogs/a.webp").flag_bits |= 0x1  # marked as encrypted
    with pytest.raises(DataError, match=r"'pets/dogs/a.webp' is encrypted"):
        inspect_image_zip(path)


def test_zip_bombs_are_refused_before_reading(tmp_path: Path) -> None:
    zeros = bytes(50 << 20)  # compresses to about 50 KB
    path = _zip(
        tmp_path / "bomb.zip", _entries_with("pets/cats/z.png", zeros), zipfile.ZIP_DEFLATED
    )
    assert path.stat().st_size < 1 << 20
    with pytest.raises(
        DataError, match=r"expands \d+ times \(over 200\); it looks like a zip bomb"
    ):
        inspect_image_zip(path)
    limits = ImageLimits(max_total_uncompressed=10 << 20, max_ratio=1e9)
    with pytest.raises(DataError, match=r"expands to 50.\d MB, over the limit of 10.0 MB"):
        inspect_image_zip(path, limits)


def test_too_many_entries_are_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path / "many.zip", _two_classes())
    with pytest.raises(DataError, match=r"has 5 entries; the limit is 4 images"):
        inspect_image_zip(path, ImageLimits(max_files=4))


def test_archives_without_a_usable_dataset_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "table.zip"
    path.write_bytes(b"a,b\n1,2\n")
    with pytest.raises(DataError, match=r"not a zip archive"):
        inspect_image_zip(path)

    one = _zip(tmp_path / "one.zip", {"cats/a.png": _image(), "cats/b.png": _image()})
    with pytest.raises(DataError, match=r"single folder 'cats'; classification needs at least"):
        inspect_image_zip(one)

    none = _zip(tmp_path / "none.zip", {"README.txt": b"hello", "a.png": _image()})
    with pytest.raises(DataError, match=r"holds no images in class folders"):
        inspect_image_zip(none)

    broken = {"cats/a.png": b"junk", "dogs/b.jpg": _image("JPEG")[:20]}
    with pytest.raises(DataError, match=r"None of the 2 images could be read"):
        inspect_image_zip(_zip(tmp_path / "broken.zip", broken))

    half = {**_two_classes(), "pets/dogs/a.webp": b"junk", "pets/dogs/b.PNG": b"junk"}
    with pytest.raises(DataError, match=r"Only class 'cats' has readable images"):
        inspect_image_zip(_zip(tmp_path / "half.zip", half))
