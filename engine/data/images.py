"""Image datasets: scikit-learn's bundled digits, and colorization patches of its sample photos or of yours."""

from __future__ import annotations

import gzip
import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from pydantic import Field

from layerloom.engine.data.base import (DEFAULT_MAX_BYTES, Dataset, DatasetError, DatasetParams, DatasetSpec,
                                        existing_folder, too_large)
from layerloom.engine.data.pictures import gray_of, open_image, visible_files

PHOTO_NAMES = ("china.jpg", "flower.jpg")  # scikit-learn's load_sample_images()


class DigitsParams(DatasetParams):
    pass


class ColorizeParams(DatasetParams):
    patch: int = Field(16, ge=4, le=128, description="side of the square patches in pixels")
    n_samples: int = Field(2000, ge=1, le=20_000, description="number of patches")
    scale: int = Field(2, ge=1, le=8, description="downscale factor applied to the photos before cutting patches")


class ImagePairsParams(ColorizeParams):
    path: str = Field("", max_length=4096, description="folder of colour photos (sub-folders are searched too)",
                      json_schema_extra={"picker": "folder"})


def sklearn_file(*parts: str) -> Path:
    """A file bundled with scikit-learn's datasets module, found without importing scikit-learn (slow)."""
    spec = importlib.util.find_spec("sklearn")
    folders = spec.submodule_search_locations if spec else None
    path = Path(folders[0], "datasets", *parts) if folders else None
    if path is None or not path.is_file():
        raise DatasetError(f"scikit-learn's bundled file datasets/{'/'.join(parts)} is missing; install scikit-learn")
    return path


def load_digits_dataset(params: DigitsParams, seed: int) -> Dataset:
    """The 1797 8x8 handwritten digits, shuffled with the seed, pixels scaled to [0, 1]."""
    with gzip.open(sklearn_file("data", "digits.csv.gz"), "rt") as table:
        rows = np.loadtxt(table, delimiter=",", dtype=np.float32)
    order = np.random.default_rng(seed).permutation(len(rows))
    images = torch.as_tensor(rows[order, :-1] / 16.0).reshape(-1, 1, 8, 8)
    target = torch.as_tensor(rows[order, -1].astype(np.int64))
    return Dataset((images,), target, "classification", 10, info={"class_names": [str(d) for d in range(10)]})


@lru_cache(maxsize=4)
def sample_photos(scale: int, patch: int) -> tuple[np.ndarray, ...]:
    """scikit-learn's two sample photos as float32 (H, W, 3) in [0, 1], downscaled by `scale`."""
    return tuple(read_photo(sklearn_file("images", name), scale, patch) for name in PHOTO_NAMES)


def read_photo(path: Path, scale: int, patch: int, color_only: bool = False) -> np.ndarray:
    """A photo as float32 (H, W, 3) in [0, 1], downscaled by `scale`; one smaller than a patch is enlarged to hold one."""
    image = open_image(path, "RGB", color_only=color_only)
    width, height = image.width // scale, image.height // scale
    grow = max(1.0, patch / max(min(width, height), 1))
    size = (max(round(width * grow), patch), max(round(height * grow), patch))
    small = image.resize(size, Image.Resampling.BOX if grow == 1.0 else Image.Resampling.BICUBIC)
    return np.asarray(small, dtype=np.float32) / 255.0


def cut_patches(photos: tuple[np.ndarray, ...], patch: int, count: int, seed: int) -> Dataset:
    """`count` random square patches of the photos, half of them mirrored: grayscale in, colour out."""
    rng = np.random.default_rng(seed)
    which = rng.integers(0, len(photos), count)
    mirrored = rng.random(count) < 0.5
    offsets = np.arange(patch)
    patches = np.empty((count, patch, patch, 3), dtype=np.float32)
    for index, photo in enumerate(photos):
        chosen = np.flatnonzero(which == index)
        height, width, _ = photo.shape
        rows = rng.integers(0, height - patch + 1, len(chosen))[:, None] + offsets
        cols = rng.integers(0, width - patch + 1, len(chosen))[:, None] + offsets
        patches[chosen] = photo[rows[:, :, None], cols[:, None, :]]
    patches[mirrored] = patches[mirrored, :, ::-1]
    color = torch.as_tensor(patches).permute(0, 3, 1, 2).contiguous()
    gray = torch.as_tensor(gray_of(patches)).unsqueeze(1)
    mean_color = color.mean(dim=(0, 2, 3), keepdim=True)
    return Dataset((gray,), color, "regression", info={"baseline_mse": float(((color - mean_color) ** 2).mean())})


def load_colorize(params: ColorizeParams, seed: int) -> Dataset:
    """Patches of scikit-learn's sample photos (a Chinese temple, a flower)."""
    return cut_patches(sample_photos(params.scale, params.patch), params.patch, params.n_samples, seed)


def load_image_pairs(params: ImagePairsParams, seed: int, max_bytes: int = DEFAULT_MAX_BYTES) -> Dataset:
    """Patches of every colour photo under params.path (sub-folders included)."""
    folder = existing_folder(params.path, "a folder of colour photos")
    paths = visible_files(folder)
    if not paths:
        raise DatasetError(f"folder '{folder}' holds no images (params.path)")
    photos, size = [], 0
    for path in paths:
        photos.append(read_photo(path, params.scale, params.patch, color_only=True))
        size += photos[-1].nbytes
        if size > max_bytes:
            raise too_large(folder, "the decoded photos", size, max_bytes, "raise params.scale")
    dataset = cut_patches(tuple(photos), params.patch, params.n_samples, seed)
    dataset.info["source"] = str(folder)
    return dataset


DIGITS = DatasetSpec(
    "digits",
    "8x8 handwritten digits (scikit-learn), images (1, 8, 8) in [0, 1], 10 classes.",
    DigitsParams,
    load_digits_dataset,
    "digit",
)
COLORIZE = DatasetSpec(
    "colorize",
    "Colorize photo patches: grayscale (1, P, P) in, colour (3, P, P) in [0, 1] out.",
    ColorizeParams,
    load_colorize,
    "photo",
)
IMAGE_PAIRS = DatasetSpec(
    "image_pairs",
    "Your own colour photos: patches in grayscale (1, P, P) in, their colour (3, P, P) out, for colorization.",
    ImagePairsParams,
    load_image_pairs,
    "photo",
    reads_files=True,
)
