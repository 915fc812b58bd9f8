"""Layers that change a tensor's layout: flatten, reshape, upsample, repeat, last_step."""
from __future__ import annotations

import math
from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import nn

from .conv import Kernel
from .registry import LayerParams, LayerSpec, first_input, register, sample_dim, shape_text


class FlattenParams(LayerParams):
    start_dim: int = Field(
        1, ge=-9, le=8, description="First dimension flattened, as in torch: 1 is a sample's first (0, the batch, is refused).",
    )
    end_dim: int = Field(-1, ge=-9, le=8, description="Last dimension flattened.")


class ReshapeParams(LayerParams):
    shape: list[Annotated[int, Field(ge=-1, le=2**31 - 1)]] = Field(
        [-1], min_length=1, max_length=8, description="New shape without the batch dimension; one entry may be -1.",
    )


class UpsampleParams(LayerParams):
    scale_factor: float = Field(2.0, gt=0, le=64, description="Size multiplier.")
    mode: Literal["nearest", "linear", "bilinear"] = Field("nearest", description="Interpolation.")


class RepeatParams(LayerParams):
    steps: Kernel = Field(10, description="Length of the produced sequence.")


class Reshape(nn.Module):
    """Reshapes each sample, keeping the batch dimension."""

    def __init__(self, shape: list[int]):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


class Repeat(nn.Module):
    """Turns a vector (F,) into a sequence (steps, F): the one-to-many pattern."""

    def __init__(self, steps: int):
        super().__init__()
        self.steps = steps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(1).expand(-1, self.steps, -1)

    def extra_repr(self) -> str:
        return f"steps={self.steps}"


class LastStep(nn.Module):
    """Keeps the last time step of a sequence (T, F) -> (F,)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, -1]


def build_flatten(p: FlattenParams, inputs) -> nn.Module:
    shape = first_input(inputs).shape
    if sample_dim(p.start_dim, shape) > sample_dim(p.end_dim, shape):
        raise ValueError(f"start_dim {p.start_dim} comes after end_dim {p.end_dim} in input shape {shape_text(shape)}")
    return nn.Flatten(p.start_dim, p.end_dim)


def build_reshape(p: ReshapeParams, inputs) -> nn.Module:
    if p.shape.count(-1) > 1 or 0 in p.shape:
        raise ValueError(f"shape {p.shape} must hold positive sizes and at most one -1")
    shape = first_input(inputs).shape
    values, fixed = math.prod(shape), math.prod(d for d in p.shape if d != -1)
    fits = values % fixed == 0 if -1 in p.shape else values == fixed
    if not fits:
        raise ValueError(f"cannot reshape {shape_text(shape)} ({values:,} values per sample) to {p.shape}")
    return Reshape(p.shape)


def _rank_check(rank: int, what: str, module: type[nn.Module]):
    def build(p, inputs) -> nn.Module:
        shape = first_input(inputs).shape
        if len(shape) != rank:
            raise ValueError(f"expects {what}, got {shape_text(shape)}")
        return module(**p.model_dump())
    return build


def build_upsample(p: UpsampleParams, inputs) -> nn.Module:
    shape = first_input(inputs).shape
    if len(shape) not in (2, 3):
        raise ValueError(f"expects (channels, length) or (channels, height, width), got {shape_text(shape)}")
    if any(math.floor(size * p.scale_factor) < 1 for size in shape[1:]):
        raise ValueError(f"scale_factor {p.scale_factor} shrinks {shape_text(shape)} to nothing")
    mode = {2: "linear", 3: "bilinear"}[len(shape)] if p.mode != "nearest" else "nearest"
    return nn.Upsample(scale_factor=p.scale_factor, mode=mode)


_ANY_DTYPE = (torch.float32, torch.int64)
register(LayerSpec(
    type="flatten", category="Reshaping", params=FlattenParams, build=build_flatten, input_dtypes=_ANY_DTYPE,
    palette_name="Flatten", doc="Flattens each sample to a vector (for example before a dense layer).",
))
register(LayerSpec(
    type="reshape", category="Reshaping", params=ReshapeParams, build=build_reshape, input_dtypes=_ANY_DTYPE,
    palette_name="Reshape", doc="Gives each sample a new shape with the same number of elements.",
))
register(LayerSpec(
    type="upsample", category="Reshaping", params=UpsampleParams, build=build_upsample, palette_name="Upsample",
    doc="Enlarges a sequence or image by interpolation.",
))
register(LayerSpec(
    type="repeat", category="Reshaping", params=RepeatParams, build=_rank_check(1, "a vector (features,)", Repeat),
    input_dtypes=_ANY_DTYPE, palette_name="Repeat vector",
    doc="Repeats a vector at every step: one input, a sequence out (one-to-many).",
))
register(LayerSpec(
    type="last_step", category="Reshaping", build=_rank_check(2, "a sequence (steps, features)", LastStep),
    input_dtypes=_ANY_DTYPE, palette_name="Last step", doc="Keeps a sequence's last step (many-to-one).",
))
