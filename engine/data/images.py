"""Image datasets built from scikit-learn's bundled files: digits and colorize."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from pydantic import Field

from engine.data.base import Dataset, DatasetError, DatasetParams, DatasetSpec

GRAY_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)


class DigitsParams(DatasetParams):
    pass


class ColorizeParams(DatasetParams):
    patch: int = Field(16, ge=4, le=128, description="side of the square patches in pixels")
    n_samples: int = Field(2000, ge=1, le=20_000, description="number of patches")
    scale: int = Field(2, ge=1, le=4, description="downscale factor applied to the photos before cutting patches")


def load_digits_dataset(params: DigitsParams, seed: int) -> Dataset:
    """The 1797 8x8 handwritten digits, shuffled with the seed, pixels scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = np.random.default_rng(seed).permutation(len(digits.target))
    images = torch.as_tensor(digits.images[order] / 16.0, dtype=torch.float32).unsqueeze(1)
    target = torch.as_tensor(digits.target[order], dtype=torch.int64)
    return Dataset((images,), target, "classification", 10, info={"class_names": [str(d) for d in range(10)]})


@lru_cache(maxsize=4)
def sample_photos(scale: int) -> tuple[np.ndarray, ...]:
    """scikit-learn's sample photos as float32 (H, W, 3) arrays in [0, 1], downscaled by `scale`."""
    from PIL import Image
    from sklearn.datasets import load_sample_images

    photos = []
    for photo in load_sample_images().images:
        image = Image.fromarray(photo)
        image = image.resize((image.width // scale, image.height // scale), Image.Resampling.BOX)
        photos.append(np.asarray(image, dtype=np.float32) / 255.0)
    return tuple(photos)


def load_colorize(params: ColorizeParams, seed: int) -> Dataset:
    """Random square patches of the sample photos: grayscale in, colour out."""
    photos = sample_photos(params.scale)
    if any(min(photo.shape[:2]) < params.patch for photo in photos):
        raise DatasetError(f"dataset 'colorize': params.patch {params.patch} is larger than the photos at scale {params.scale}")
    rng = np.random.default_rng(seed)
    which = rng.integers(0, len(photos), params.n_samples)
    patches = np.empty((params.n_samples, params.patch, params.patch, 3), dtype=np.float32)
    for i, photo_index in enumerate(which):
        photo = photos[photo_index]
        top = rng.integers(0, photo.shape[0] - params.patch + 1)
        left = rng.integers(0, photo.shape[1] - params.patch + 1)
        patches[i] = photo[top : top + params.patch, left : left + params.patch]
    flip = rng.random(params.n_samples) < 0.5
    patches[flip] = patches[flip, :, ::-1]
    color = torch.as_tensor(patches).permute(0, 3, 1, 2).contiguous()
    gray = torch.as_tensor(patches @ GRAY_WEIGHTS).unsqueeze(1)
    mean_color = color.mean(dim=(0, 2, 3), keepdim=True)
    info = {"baseline_mse": float(((color - mean_color) ** 2).mean())}
    return Dataset((gray,), color, "regression", info=info)


DIGITS = DatasetSpec(
    "digits", "8x8 handwritten digits (scikit-learn), images (1, 8, 8) in [0, 1], 10 classes.", DigitsParams, load_digits_dataset
)
COLORIZE = DatasetSpec(
    "colorize", "Colorize photo patches: grayscale (1, P, P) in, colour (3, P, P) in [0, 1] out.", ColorizeParams, load_colorize
)
