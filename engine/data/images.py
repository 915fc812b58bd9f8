"""Image datasets built from scikit-learn's bundled files: digits and colorize."""

from __future__ import annotations

import gzip
import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from pydantic import Field

from layerloom.engine.data.base import Dataset, DatasetError, DatasetParams, DatasetSpec

PHOTO_NAMES = ("china.jpg", "flower.jpg")  # scikit-learn's load_sample_images()
GRAY_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)


class DigitsParams(DatasetParams):
    pass


class ColorizeParams(DatasetParams):
    patch: int = Field(16, ge=4, le=128, description="side of the square patches in pixels")
    n_samples: int = Field(2000, ge=1, le=20_000, description="number of patches")
    scale: int = Field(2, ge=1, le=4, description="downscale factor applied to the photos before cutting patches")


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
def sample_photos(scale: int) -> np.ndarray:
    """scikit-learn's two sample photos (same size) as float32 (2, H, W, 3) in [0, 1], downscaled by `scale`."""
    from PIL import Image

    photos = []
    for name in PHOTO_NAMES:
        with Image.open(sklearn_file("images", name)) as photo:
            small = photo.convert("RGB").resize((photo.width // scale, photo.height // scale), Image.Resampling.BOX)
        photos.append(np.asarray(small, dtype=np.float32) / 255.0)
    return np.stack(photos)


def load_colorize(params: ColorizeParams, seed: int) -> Dataset:
    """Random square patches of the sample photos, half of them mirrored: grayscale in, colour out."""
    photos = sample_photos(params.scale)
    _, height, width, _ = photos.shape
    if min(height, width) < params.patch:
        raise DatasetError(
            f"params.patch {params.patch} is larger than the photos ({height}x{width}) at scale {params.scale}"
        )
    rng = np.random.default_rng(seed)
    which = rng.integers(0, len(photos), params.n_samples)
    offsets = np.arange(params.patch)
    rows = rng.integers(0, height - params.patch + 1, params.n_samples)[:, None] + offsets
    cols = rng.integers(0, width - params.patch + 1, params.n_samples)[:, None] + offsets
    mirrored = rng.random(params.n_samples) < 0.5
    cols[mirrored] = cols[mirrored, ::-1]
    patches = photos[which[:, None, None], rows[:, :, None], cols[:, None, :]]
    color = torch.as_tensor(patches).permute(0, 3, 1, 2).contiguous()
    gray = torch.as_tensor(patches @ GRAY_WEIGHTS).unsqueeze(1)
    mean_color = color.mean(dim=(0, 2, 3), keepdim=True)
    info = {"baseline_mse": float(((color - mean_color) ** 2).mean())}
    return Dataset((gray,), color, "regression", info=info)


DIGITS = DatasetSpec(
    "digits",
    "8x8 handwritten digits (scikit-learn), images (1, 8, 8) in [0, 1], 10 classes.",
    DigitsParams,
    load_digits_dataset,
)
COLORIZE = DatasetSpec(
    "colorize",
    "Colorize photo patches: grayscale (1, P, P) in, colour (3, P, P) in [0, 1] out.",
    ColorizeParams,
    load_colorize,
)
