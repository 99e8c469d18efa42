"""Tiny generated image archives: red discs against blue squares, or brightness as a value."""

from __future__ import annotations

import base64
import io
import struct
import zipfile
import zlib

import numpy as np
from PIL import Image, ImageDraw

FORMATS = ("PNG", "JPEG", "WEBP")


def encode(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def shape(kind: str, rng: np.random.Generator, size: int = 16) -> Image.Image:
    """A red disc or a blue square on a dark, random background."""
    background = tuple(int(v) for v in rng.integers(0, 60, 3))
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    margin = int(rng.integers(1, 4))
    box = [margin, margin, size - margin, size - margin]
    if kind == "red":
        draw.ellipse(box, fill=(230, 30, 30))
    else:
        draw.rectangle(box, fill=(30, 30, 230))
    return image


def shapes_zip(n: int = 40, seed: int = 0) -> bytes:
    """Class folders of PNG, JPEG and WebP images, mostly 16x16, some 20x20 or with alpha."""
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(n):
            kind, fmt = ("red", "blue")[i % 2], FORMATS[i % 3]
            image = shape(kind, rng, 16 if i % 5 else 20)
            if i % 7 == 0 and fmt != "JPEG":
                image = image.convert("RGBA")
            archive.writestr(f"shapes/{kind}/{i}.{fmt.lower()}", encode(image, fmt))
    return buffer.getvalue()


def brightness_zip(n: int = 40, seed: int = 0) -> bytes:
    """Grey images and a filename,value CSV: the value is the image's brightness."""
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    rows = ["filename,value"]
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(n):
            level = int(rng.integers(0, 256))
            noise = rng.integers(-10, 10, (16, 16))
            pixels = np.clip(level + noise, 0, 255).astype("uint8")
            archive.writestr(f"img/{i}.png", encode(Image.fromarray(pixels, "L")))
            rows.append(f"img/{i}.png,{level / 255 * 10:.3f}")
        archive.writestr("values.csv", "\n".join(rows) + "\n")
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose valid header declares a huge size, with no pixels behind it."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b""))
