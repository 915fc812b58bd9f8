"""Two-dimensional toy classification sets: spirals, moons, circles and xor."""

from __future__ import annotations

import math

import numpy as np
import torch
from pydantic import Field

from layerloom.engine.data.base import Dataset, DatasetParams, DatasetSpec


class SpiralsParams(DatasetParams):
    n_samples: int = Field(1500, ge=10, le=100_000, description="number of points")
    classes: int = Field(2, ge=2, le=8, description="number of interleaved spiral arms, one per class")
    noise: float = Field(
        0.05, ge=0.0, le=1.0, description="standard deviation of the jitter, relative to the outer radius"
    )


class MoonsParams(DatasetParams):
    n_samples: int = Field(1000, ge=10, le=100_000, description="number of points")
    noise: float = Field(0.1, ge=0.0, le=2.0, description="standard deviation of the jitter added to each point")


class CirclesParams(DatasetParams):
    n_samples: int = Field(1000, ge=10, le=100_000, description="number of points")
    noise: float = Field(0.05, ge=0.0, le=2.0, description="standard deviation of the jitter added to each point")
    factor: float = Field(0.5, ge=0.05, le=0.95, description="radius of the inner circle relative to the outer one")


class XorParams(DatasetParams):
    n_samples: int = Field(1000, ge=10, le=100_000, description="number of points")
    noise: float = Field(0.05, ge=0.0, le=2.0, description="standard deviation of the jitter added to each point")


def points_dataset(points: np.ndarray, labels: np.ndarray, num_classes: int, rng: np.random.Generator) -> Dataset:
    """Shuffle, standardize each coordinate and wrap as a classification dataset."""
    order = rng.permutation(len(points))
    points = points[order]
    points = (points - points.mean(axis=0)) / (points.std(axis=0) + 1e-8)
    inputs = torch.as_tensor(points, dtype=torch.float32)
    return Dataset((inputs,), torch.as_tensor(labels[order], dtype=torch.int64), "classification", num_classes)


def load_spirals(params: SpiralsParams, seed: int) -> Dataset:
    """Interleaved spiral arms, each one and a half turns long."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, params.classes, params.n_samples)
    progress = np.sqrt(rng.uniform(0.0, 1.0, params.n_samples))
    angle = progress * 3.0 * math.pi + labels * 2.0 * math.pi / params.classes
    radius = 0.1 + progress
    points = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    points += rng.normal(0.0, params.noise, points.shape)
    return points_dataset(points, labels, params.classes, rng)


def load_moons(params: MoonsParams, seed: int) -> Dataset:
    """Two interleaving half circles of radius 1, like scikit-learn's make_moons."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, params.n_samples)
    angle = rng.uniform(0.0, math.pi, params.n_samples)
    upper = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    lower = np.stack([1.0 - np.cos(angle), 0.5 - np.sin(angle)], axis=1)
    points = np.where(labels[:, None] == 0, upper, lower) + rng.normal(0.0, params.noise, (params.n_samples, 2))
    return points_dataset(points, labels, 2, rng)


def load_circles(params: CirclesParams, seed: int) -> Dataset:
    """A circle of radius `factor` (class 1) inside one of radius 1 (class 0), like scikit-learn's make_circles."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, params.n_samples)
    angle = rng.uniform(0.0, 2.0 * math.pi, params.n_samples)
    radius = np.where(labels == 1, params.factor, 1.0)
    points = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    points += rng.normal(0.0, params.noise, points.shape)
    return points_dataset(points, labels, 2, rng)


def load_xor(params: XorParams, seed: int) -> Dataset:
    """Points in the square [-1, 1]^2, class 1 where both coordinates share a sign."""
    rng = np.random.default_rng(seed)
    clean = rng.uniform(-1.0, 1.0, (params.n_samples, 2))
    labels = (clean[:, 0] * clean[:, 1] > 0).astype(np.int64)
    return points_dataset(clean + rng.normal(0.0, params.noise, clean.shape), labels, 2, rng)


SPIRALS = DatasetSpec(
    "spirals", "Interleaved 2-D spiral arms, one class per arm; a linear model fails.", SpiralsParams, load_spirals
)
MOONS = DatasetSpec("moons", "Two interleaving 2-D half circles, 2 classes.", MoonsParams, load_moons)
CIRCLES = DatasetSpec("circles", "A 2-D circle inside another, 2 classes.", CirclesParams, load_circles)
XOR = DatasetSpec(
    "xor", "2-D points labelled by whether both coordinates share a sign (XOR), 2 classes.", XorParams, load_xor
)
