"""Numeric sequence datasets: sine (one-to-many) and the adding problem (many-to-one)."""

from __future__ import annotations

import math

import numpy as np
import torch
from pydantic import Field

from layerloom.engine.data.base import Dataset, DatasetParams, DatasetSpec, baseline_mse

MIN_STEP_ANGLE, MAX_STEP_ANGLE = 0.1, 1.0


class SineParams(DatasetParams):
    length: int = Field(20, ge=2, le=1000, description="number of time steps of each wave")
    n_samples: int = Field(2000, ge=1, le=100_000, description="number of waves")


class AddingParams(DatasetParams):
    length: int = Field(50, ge=2, le=1000, description="number of time steps of each sequence")
    n_samples: int = Field(5000, ge=1, le=100_000, description="number of sequences")


def load_sine(params: SineParams, seed: int) -> Dataset:
    """Input (frequency, phase) each scaled to [-1, 1]; target the wave sin(w*t + phase) for t = 0..length-1."""
    rng = np.random.default_rng(seed)
    step_angle = rng.uniform(MIN_STEP_ANGLE, MAX_STEP_ANGLE, params.n_samples)
    phase = rng.uniform(0.0, 2.0 * math.pi, params.n_samples)
    steps = np.arange(params.length)
    waves = np.sin(step_angle[:, None] * steps[None, :] + phase[:, None])
    scaled_frequency = 2.0 * (step_angle - MIN_STEP_ANGLE) / (MAX_STEP_ANGLE - MIN_STEP_ANGLE) - 1.0
    scaled_phase = phase / math.pi - 1.0
    inputs = torch.as_tensor(np.stack([scaled_frequency, scaled_phase], axis=1), dtype=torch.float32)
    target = torch.as_tensor(waves, dtype=torch.float32).unsqueeze(-1)
    return Dataset((inputs,), target, "regression", info={"baseline_mse": baseline_mse(target)})


def load_adding(params: AddingParams, seed: int) -> Dataset:
    """Channel 0 uniform values, channel 1 marks one step in each half; target the sum of the two marked values."""
    rng = np.random.default_rng(seed)
    values = rng.uniform(0.0, 1.0, (params.n_samples, params.length))
    half = params.length // 2
    first = rng.integers(0, half, params.n_samples)
    second = rng.integers(half, params.length, params.n_samples)
    rows = np.arange(params.n_samples)
    markers = np.zeros_like(values)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    inputs = torch.as_tensor(np.stack([values, markers], axis=-1), dtype=torch.float32)
    sums = values[rows, first] + values[rows, second]
    target = torch.as_tensor(sums, dtype=torch.float32).unsqueeze(1)
    return Dataset((inputs,), target, "regression", info={"baseline_mse": baseline_mse(target)})


SINE = DatasetSpec(
    "sine", "One-to-many: (frequency, phase) in, a sine wave of `length` steps out.", SineParams, load_sine
)
ADDING = DatasetSpec(
    "adding", "The adding problem: sum the two marked values of a (length, 2) sequence.", AddingParams, load_adding
)
