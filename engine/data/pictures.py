"""The user's image files, read with Pillow: regular files only, size-checked, errors that name the file."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from layerloom.engine import fileio
from layerloom.engine.data.base import DatasetError

MAX_IMAGE_BYTES = 64 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 40-megapixel photo; Pillow itself refuses decompression bombs only past 178 million
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")
GRAY_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601 luma, as Pillow's convert("L")


def open_image(path: Path, mode: str, draft: tuple[int, int] | None = None, color_only: bool = False) -> Image.Image:
    """The image in `path`, upright (EXIF orientation), in `mode` ('L' or 'RGB'), transparency laid on white.

    `draft` (width, height) lets JPEG decoding skip detail a smaller result does not need; `color_only` refuses
    a grayscale file (one with no colour to learn from)."""
    data = fileio.read_bytes(path, MAX_IMAGE_BYTES, "image")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise DatasetError(f"image '{path}' is {image.width}x{image.height} pixels, over the "
                                   f"{MAX_PIXELS:,} pixel limit")
            if color_only and image.mode in GRAY_MODES:
                raise DatasetError(f"image '{path}' is grayscale; colour photos are needed to learn colour from")
            if draft and image.format == "JPEG":
                image.draft("RGB" if mode == "RGB" else "L", draft)
            image = ImageOps.exif_transpose(image)
            if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                rgba = image.convert("RGBA")
                image = Image.new("RGBA", rgba.size, "white")
                image.alpha_composite(rgba)
            return image.convert(mode)
    except UnidentifiedImageError:
        raise DatasetError(f"file '{path}' is not an image Pillow can read (PNG, JPEG, BMP, GIF, TIFF, WebP, ...)")\
            from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise DatasetError(f"image '{path}' is damaged or truncated: {error}") from None


def to_array(image: Image.Image) -> np.ndarray:
    """An 'L' or 'RGB' image as float32 (C, H, W) in [0, 1]."""
    array = np.asarray(image, dtype=np.float32) / 255.0
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def gray_of(color: np.ndarray) -> np.ndarray:
    """(..., 3) colour in [0, 1] to (...) luma, the way a black-and-white photograph records it."""
    return color @ GRAY_WEIGHTS


def visible_files(folder: Path) -> list[Path]:
    """The files under `folder` (searched recursively, in sorted order), leaving out hidden ones (.DS_Store)."""
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root, name) for name in sorted(names) if not name.startswith(".") and name != "Thumbs.db"]
    return found

