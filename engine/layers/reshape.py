"""Layers that change a tensor's layout: flatten, reshape, upsample, repeat, last_step."""
from __future__ import annotations

import math
from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import nn

from .code import Code, Construct, Inline, arguments, changed, torch_defaults
from .conv import Kernel
from .learned import expanded
from .patterns import BatchSize, Layer, Param, Patterns, not_batch, pair, require
from .registry import LayerParams, LayerSpec, Sample, first_input, register, sample_dim, shape_text


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


def _flatten_code(p: FlattenParams, _) -> Code:
    dims = changed({"start_dim": p.start_dim, "end_dim": p.end_dim}, torch_defaults(nn.Flatten))
    return Construct("nn.Flatten", arguments(**dims))


def _upsample_code(p: UpsampleParams, shape) -> Code:
    mode = "nearest" if p.mode == "nearest" else {2: "linear", 3: "bilinear"}[len(shape)]
    keywords = changed({"scale_factor": p.scale_factor, "mode": mode}, torch_defaults(nn.Upsample))
    return Construct("nn.Upsample", arguments(**keywords))


def _flatten(input, start_dim=0, end_dim=-1) -> Layer:
    return Layer("flatten", {"start_dim": not_batch(start_dim, "start_dim"), "end_dim": end_dim}, (input,))


def _reshape(input, *shape) -> Layer:
    """x.view(x.size(0), ...) keeps the batch: a reshape (a flatten for -1). x.view(-1, ...) keeps it only when
    each sample has exactly the values of the new shape, which is checked once shapes are known."""
    shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    if input.layout != "batch":  # y.view(-1, F) of a time-major (T, N, F): the rows of every step, then a layer
        require(input.layout == "time" and list(shape) == [-1, *input.shape[2:]],
                "reshapes a time-major tensor: only y.view(-1, features), all steps' rows, can be imported")
        return Layer(None, {}, (input,), layout="flat")
    rest = list(shape[1:])
    keeps_batch = len(shape) >= 2 and isinstance(shape[0], BatchSize)
    require(keeps_batch or (len(shape) >= 2 and shape[0] == -1),
            "changes the batch dimension: begin the new shape with x.size(0) (or -1)")
    require(all(type(d) is int for d in rest), "the sizes after the batch size must be numbers")
    if keeps_batch:
        return Layer("flatten", {}, (input,)) if rest == [-1] else Layer("reshape", {"shape": rest}, (input,))
    require(-1 not in rest, "x.view(-1, ...) with another -1 leaves the batch size open")
    layer_type, params = ("flatten", {}) if len(rest) == 1 else ("reshape", {"shape": rest})
    return Layer(layer_type, params, (input,), shape=tuple(rest))


def _unsqueeze(input, dim) -> Layer:
    """x.unsqueeze(d): a reshape that adds a dimension of size 1."""
    rank = len(input.shape)
    index = dim if dim >= 0 else rank + 1 + dim
    require(index >= 1, "adds a dimension before the batch")
    sample = list(input.shape[1:])
    return Layer("reshape", {"shape": sample[:index - 1] + [1] + sample[index - 1:]}, (input,))


def _expand(input, *sizes) -> Layer:
    """x.unsqueeze(1).expand(-1, steps, -1): a vector repeated at every step; self.token.expand(n, -1, -1): a
    learned tensor for every sample."""
    sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
    if isinstance(input, Param):
        return expanded(input, sizes)
    origin = input.origin
    vector = origin is not None and origin.type == "reshape" and len(origin.inputs[0].shape) == 2
    require(vector and origin.params["shape"][0] == 1 and len(sizes) == 3 and sizes[2] in (-1, input.shape[2])
            and (sizes[0] == -1 or isinstance(sizes[0], BatchSize)) and type(sizes[1]) is int,
            "only x.unsqueeze(1).expand(-1, steps, -1), a vector repeated at every step, can be imported")
    return Layer("repeat", {"steps": sizes[1]}, origin.inputs)


def _upsample_import(m: nn.Upsample) -> Layer:
    require(m.size is None, "a fixed output size is not supported: use scale_factor")
    scale = pair(m.scale_factor)
    require(not isinstance(scale, tuple), f"scale_factor={m.scale_factor}: one factor for every dimension is needed")
    require(m.mode in ("nearest", "linear", "bilinear"), f"mode={m.mode!r} is not supported")
    require(not m.align_corners, "align_corners=True is not supported")
    require(not m.recompute_scale_factor, "recompute_scale_factor=True is not supported")
    return Layer("upsample", {"scale_factor": float(scale), "mode": m.mode})


_ANY_DTYPE = (torch.float32, torch.int64)
_FLATTEN_MODULE = {nn.Flatten: lambda m: _flatten(None, m.start_dim, m.end_dim)}
register(LayerSpec(
    type="flatten", category="Reshaping", params=FlattenParams, build=build_flatten, input_dtypes=_ANY_DTYPE,
    palette_name="Flatten", aliases=("vectorize",), doc="Flattens each sample to a vector (for example before a dense layer).",
    export=_flatten_code,
    imports=Patterns(modules=_FLATTEN_MODULE, functions={torch.flatten: _flatten}, methods={"flatten": _flatten}),
    samples=(Sample({"in": [(3, 4, 4)]}), Sample({"in": [(3, 4, 4)]}, {"start_dim": 2})),
))
register(LayerSpec(
    type="reshape", category="Reshaping", params=ReshapeParams, build=build_reshape, input_dtypes=_ANY_DTYPE,
    palette_name="Reshape", aliases=("view",), doc="Gives each sample a new shape with the same number of elements.",
    export=lambda p, _: Inline(lambda xs: f"{xs[0]}.reshape({xs[0]}.shape[0], {', '.join(map(str, p.shape))})"),
    imports=Patterns(functions={torch.reshape: lambda input, shape: _reshape(input, shape),
                                torch.unsqueeze: _unsqueeze},
                     methods={"view": _reshape, "reshape": _reshape, "unsqueeze": _unsqueeze}),
    card=("shape",), samples=(Sample({"in": [(12,)]}, {"shape": [3, -1]}), Sample({"in": [(2, 6)]}, {"shape": [12]})),
))
register(LayerSpec(
    type="upsample", category="Reshaping", params=UpsampleParams, build=build_upsample, palette_name="Upsample",
    aliases=("interpolate", "resize", "upscale"),
    doc="Enlarges a sequence or image by interpolation.",
    export=_upsample_code, imports=Patterns(modules={nn.Upsample: _upsample_import}), card=("scale_factor",),
    samples=(Sample({"in": [(3, 4, 4)]}), Sample({"in": [(3, 5)]}, {"scale_factor": 1.5, "mode": "linear"})),
))
register(LayerSpec(
    type="repeat", category="Reshaping", params=RepeatParams, build=_rank_check(1, "a vector (features,)", Repeat),
    input_dtypes=_ANY_DTYPE, palette_name="Repeat vector", aliases=("tile", "one to many"),
    doc="Repeats a vector at every step: one input, a sequence out (one-to-many).",
    imports=Patterns(methods={"expand": _expand}),
    export=lambda p, _: Inline(lambda xs: f"{xs[0]}.unsqueeze(1).expand(-1, {p.steps}, -1)"),
    card=("steps",), samples=(Sample(params={"steps": 4}),),
))
register(LayerSpec(
    type="last_step", category="Reshaping", build=_rank_check(2, "a sequence (steps, features)", LastStep),
    input_dtypes=_ANY_DTYPE, palette_name="Last step", aliases=("final step", "many to one"), doc="Keeps a sequence's last step (many-to-one).",
    export=lambda p, _: Inline(lambda xs: f"{xs[0]}[:, -1]"),
    samples=(Sample({"in": [(5, 3)]}),),
))
