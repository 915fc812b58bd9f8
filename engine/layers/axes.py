"""Layers that reorder or average over a sample's dimensions: permute and mean."""
from __future__ import annotations

import inspect
from typing import Annotated

import torch
from pydantic import Field
from torch import nn

from .code import Inline
from .patterns import Layer, Patterns, bind, require
from .registry import LayerParams, LayerSpec, Sample, first_input, register, sample_dim, shape_text

Dim = Annotated[int, Field(ge=-9, le=8)]


class PermuteParams(LayerParams):
    dims: list[Annotated[int, Field(ge=1, le=8)]] = Field(
        [2, 1], min_length=1, max_length=8,
        description="The sample's dimensions in their new order, numbered as in torch (1 is a sample's first): "
                    "[2, 3, 1] turns (C, H, W) into (H, W, C).",
    )


class MeanParams(LayerParams):
    dims: list[Dim] = Field([-1], min_length=1, max_length=8,
                            description="Dimensions averaged over, as in torch (0, the batch, is refused).")
    keepdim: bool = Field(False, description="Keep the averaged dimensions, with size 1.")


class Permute(nn.Module):
    """Reorders each sample's dimensions; the batch stays first."""

    def __init__(self, dims: list[int]):
        super().__init__()
        self.dims = tuple(dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, *self.dims)

    def extra_repr(self) -> str:
        return f"dims={self.dims}"


class Mean(nn.Module):
    """Averages each sample over some of its dimensions."""

    def __init__(self, dims: list[int], keepdim: bool):
        super().__init__()
        self.dims, self.keepdim = tuple(dims), keepdim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=self.dims, keepdim=self.keepdim)

    def extra_repr(self) -> str:
        return f"dims={self.dims}, keepdim={self.keepdim}"


def build_permute(p: PermuteParams, inputs) -> nn.Module:
    shape = first_input(inputs).shape
    if sorted(p.dims) != list(range(1, len(shape) + 1)):
        raise ValueError(f"dims {p.dims} must order 1 to {len(shape)}, the dimensions of input shape "
                         f"{shape_text(shape)}")
    return Permute(p.dims)


def build_mean(p: MeanParams, inputs) -> nn.Module:
    shape = first_input(inputs).shape
    indices = [sample_dim(d, shape) for d in p.dims]
    if len(set(indices)) < len(indices):
        raise ValueError(f"dims {p.dims} name a dimension twice")
    return Mean(p.dims, p.keepdim)


def _permuted(input, order) -> Layer:
    """A permutation of all dimensions (the batch's included, as torch gives it) as a permute layer."""
    rank = len(input.shape)
    order = [d % rank for d in order]
    require(sorted(order) == list(range(rank)), f"dims {order} are not a permutation of the input's {rank}")
    if order[:2] == [1, 0] and order[2:] == list(range(2, rank)) and input.layout in ("batch", "time"):
        return Layer(None, {}, (input,), layout="time" if input.layout == "batch" else "batch")  # x.transpose(0, 1)
    require(order[0] == 0, "moves the batch dimension")
    if order == sorted(order):
        return Layer(None, {}, (input,))
    return Layer("permute", {"dims": order[1:]}, (input,))


def _permute(input, *dims) -> Layer:
    dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
    return _permuted(input, dims)


def _transpose(input, dim0, dim1) -> Layer:
    order = list(range(len(input.shape)))
    order[dim0], order[dim1] = order[dim1], order[dim0]
    return _permuted(input, order)


def _mean(*args, **kwargs) -> Layer:
    values = bind(_MEAN_SIGNATURE, args, kwargs)
    dims = values["dim"]
    require(dims is not None, "averages over the batch too: give the dimensions, x.mean(dim)")
    require(values["dtype"] is None, "dtype is not supported")
    dims = [dims] if isinstance(dims, int) else list(dims)
    require(all(d % len(values["input"].shape) != 0 for d in dims), "averages over the batch dimension")
    return Layer("mean", {"dims": dims, "keepdim": values["keepdim"]}, (values["input"],))


def _mean_signature(input, dim=None, keepdim=False, *, dtype=None):
    """torch.mean's signature (a builtin, so inspect cannot read it)."""


_MEAN_SIGNATURE = inspect.signature(_mean_signature)


def _mean_code(p: MeanParams, _) -> Inline:
    dims = p.dims[0] if len(p.dims) == 1 else tuple(p.dims)
    keep = ", keepdim=True" if p.keepdim else ""
    return Inline(lambda xs: f"{xs[0]}.mean(dim={dims!r}{keep})")


_TRANSPOSE = {"transpose": _transpose, "swapaxes": _transpose, "swapdims": _transpose}
register(LayerSpec(
    type="permute", category="Reshaping", params=PermuteParams, build=build_permute, palette_name="Permute",
    doc="Reorders each sample's dimensions, as x.permute or x.transpose does (the batch stays first).",
    input_dtypes=(torch.float32, torch.int64),
    export=lambda p, _: Inline(lambda xs: f"{xs[0]}.permute(0, {', '.join(map(str, p.dims))})"),
    imports=Patterns(functions={torch.permute: _permute, torch.transpose: _transpose, torch.swapaxes: _transpose},
                     methods={"permute": _permute, **_TRANSPOSE}),
    card=("dims",), samples=(Sample({"in": [(3, 4, 5)]}, {"dims": [2, 3, 1]}), Sample({"in": [(4, 6)]})),
    aliases=("transpose", "swap axes"),
))
register(LayerSpec(
    type="mean", category="Pooling", params=MeanParams, build=build_mean, palette_name="Mean",
    doc="Averages each sample over some dimensions: x.mean([2, 3]) is global average pooling.",
    export=_mean_code, imports=Patterns(functions={torch.mean: _mean}, methods={"mean": _mean}),
    card=("dims",),
    samples=(Sample({"in": [(3, 4, 5)]}, {"dims": [2, 3]}), Sample({"in": [(4, 6)]}, {"keepdim": True})),
    aliases=("reduce mean", "global average pooling"),
))
