"""Layers that join several inputs: add (residual / skip connections), multiply (gates) and concat."""
from __future__ import annotations

import operator

import torch
from pydantic import Field
from torch import nn

from .code import Inline
from .patterns import Layer, Patterns, not_batch, require
from .registry import InputPort, LayerParams, LayerSpec, Sample, register, sample_dim, shape_text


class ConcatParams(LayerParams):
    dim: int = Field(
        -1, ge=-9, le=8, description="Dimension to join along, as in torch.cat: 1 is a sample's first (0, the batch, is refused).",
    )


class Add(nn.Module):
    """Sums its inputs: the skip connection of a residual block."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Multiply(nn.Module):
    """Multiplies its inputs element by element, broadcasting sizes of 1: a squeeze-and-excitation gate."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


class Concat(nn.Module):
    """Joins its inputs along one dimension."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.cat(xs, dim=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


def _shapes_text(shapes) -> str:
    return "inputs have shapes " + " and ".join(shape_text(s) for s in shapes)


def build_add(_: LayerParams, inputs) -> nn.Module:
    shapes = [m.shape for m in inputs["in"]]
    if len(set(shapes)) > 1:
        raise ValueError(f"{_shapes_text(shapes)}; add needs them all the same")
    return Add()


def build_multiply(_: LayerParams, inputs) -> nn.Module:
    shapes = [m.shape for m in inputs["in"]]
    try:
        torch.broadcast_shapes(*shapes)
    except RuntimeError:
        raise ValueError(
            f"{_shapes_text(shapes)}; multiply needs sizes that are equal or 1 in each dimension") from None
    return Multiply()


def build_concat(p: ConcatParams, inputs) -> nn.Module:
    shapes = [m.shape for m in inputs["in"]]
    if len({len(s) for s in shapes}) > 1:
        raise ValueError(f"{_shapes_text(shapes)}; concat needs inputs of the same rank")
    index = sample_dim(p.dim, shapes[0])
    if len({s[:index] + s[index + 1:] for s in shapes}) > 1:
        raise ValueError(f"{_shapes_text(shapes)}; concat along dim {p.dim} needs every other size equal")
    return Concat(p.dim)


def _chain(layer_type: str, input, other) -> Layer:
    """a + b; (a + b) + c, with a + b used nowhere else, is one add of three (it sums in the same order)."""
    origin = getattr(input, "origin", None)
    first = origin.inputs if origin is not None and origin.type == layer_type else (input,)
    return Layer(layer_type, {}, (*first, other))


def _add(input, other, alpha=1) -> Layer:
    require(alpha == 1, f"alpha={alpha} is not supported")
    return _chain("add", input, other)


def _multiply(input, other) -> Layer:
    return _chain("multiply", input, other)


def _cat(tensors, dim=0) -> Layer:
    """torch.cat of several tensors; of one, the tensor itself."""
    if len(tensors) == 1:
        return Layer(None, {}, tuple(tensors))
    return Layer("concat", {"dim": not_batch(dim)}, tuple(tensors))


_MANY = (InputPort("in", multiple=True, min_count=2),)
register(LayerSpec(
    type="add", category="Merge and residual", build=build_add, inputs=_MANY, palette_name="Add (residual)",
    aliases=("residual", "skip", "shortcut", "sum"),
    doc="Element-wise sum of two or more inputs of one shape: the residual (skip) connection.",
    export=lambda p, _: Inline(lambda xs: " + ".join(xs)),
    imports=Patterns(functions={operator.add: _add, torch.add: _add}, methods={"add": _add}),
    samples=(Sample({"in": [(6,), (6,)]}), Sample({"in": [(2, 3), (2, 3), (2, 3)]})),
    per_position=True,
))
register(LayerSpec(
    type="multiply", category="Merge and residual", build=build_multiply, inputs=_MANY, palette_name="Multiply (gate)",
    doc="Element-wise product of two or more inputs, sizes of 1 broadcast: a gate such as squeeze-and-excitation's.",
    export=lambda p, _: Inline(lambda xs: " * ".join(xs)),
    imports=Patterns(functions={operator.mul: _multiply, torch.mul: _multiply}, methods={"mul": _multiply}),
    samples=(Sample({"in": [(3, 4, 4), (3, 1, 1)]}), Sample({"in": [(5,), (5,), (5,)]})),
    per_position=True,
    aliases=("product", "gate", "hadamard", "scale"),
))
register(LayerSpec(
    type="concat", category="Merge and residual", params=ConcatParams, build=build_concat, inputs=_MANY,
    palette_name="Concat", aliases=("concatenate", "cat", "merge"), doc="Joins two or more inputs along one dimension.", input_dtypes=(torch.float32, torch.int64),
    export=lambda p, _: Inline(lambda xs: f"torch.cat([{', '.join(xs)}], dim={p.dim})"),
    imports=Patterns(functions={torch.cat: _cat, torch.concat: _cat}), card=("dim",),
    samples=(Sample({"in": [(6,), (4,)]}), Sample({"in": [(2, 3, 3), (5, 3, 3)]}, {"dim": 1})),
))
