"""Layers that take part of each sample: select (x[:, 0]) and slice (x[:, 2:5]); indexing and chunk map to them."""
from __future__ import annotations

import math
import operator

import torch
from pydantic import Field
from torch import nn

from .code import Inline
from .patterns import Layer, Patterns, not_batch, require
from .registry import LayerParams, LayerSpec, Sample, first_input, register, sample_dim

_DIM = dict(ge=-9, le=8, description="Dimension, as in torch: 1 is a sample's first (0, the batch, is refused).")


class SelectParams(LayerParams):
    dim: int = Field(1, **_DIM)
    index: int = Field(0, ge=-2**31, le=2**31 - 1, description="Position kept (negative counts from the end); "
                                                               "the dimension itself goes away.")


class SliceParams(LayerParams):
    dim: int = Field(1, **_DIM)
    start: int = Field(0, ge=-2**31, le=2**31 - 1, description="First position kept (negative counts from the end).")
    end: int | None = Field(None, ge=-2**31, le=2**31 - 1, description="Position where the slice stops (excluded); "
                                                                       "null for the end.")
    step: int = Field(1, ge=1, le=2**31 - 1, description="Keep every step-th position.")


class Select(nn.Module):
    """x.select(dim, index): one position of a dimension, which goes away."""

    def __init__(self, dim: int, index: int):
        super().__init__()
        self.dim, self.index = dim, index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.select(self.dim, self.index)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, index={self.index}"


class Slice(nn.Module):
    """x[:, start:end:step] along one dimension."""

    def __init__(self, dim: int, start: int, end: int | None, step: int):
        super().__init__()
        self.dim, self.start, self.end, self.step = dim, start, end, step

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        index = [slice(None)] * (self.dim % x.dim()) + [slice(self.start, self.end, self.step)]
        return x[tuple(index)]

    def extra_repr(self) -> str:
        return f"dim={self.dim}, start={self.start}, end={self.end}, step={self.step}"


def build_select(p: SelectParams, inputs) -> nn.Module:
    shape = first_input(inputs).shape
    size = shape[sample_dim(p.dim, shape)]
    if not -size <= p.index < size:
        raise ValueError(f"index {p.index} is out of range for dim {p.dim} of size {size}")
    return Select(p.dim, p.index)


def build_slice(p: SliceParams, inputs) -> nn.Module:
    shape = first_input(inputs).shape
    size = shape[sample_dim(p.dim, shape)]
    if not range(size)[slice(p.start, p.end, p.step)]:
        raise ValueError(f"slice {p.start}:{p.end}:{p.step} of dim {p.dim} (size {size}) keeps nothing")
    return Slice(p.dim, p.start, p.end, p.step)


def _subscript(dim: int, entry: str) -> str:
    """'[:, 2:5]' for dim 1, '[..., 0]' for dim -1."""
    return f"[{':, ' * dim}{entry}]" if dim > 0 else f"[..., {entry}{', :' * (-dim - 1)}]"


def _slice_code(p: SliceParams, _) -> Inline:
    text = f"{p.start or ''}:{'' if p.end is None else p.end}" + ("" if p.step == 1 else f":{p.step}")
    return Inline(lambda xs: xs[0] + _subscript(p.dim, text))


def _index(input, item) -> Layer:
    """x[:, 0] is a select, x[:, 2:5] a slice, x[:, None] a reshape, and x[:, -1] of a sequence its last step;
    the batch is kept whole and one dimension at most is indexed."""
    rank, full = len(input.shape), slice(None)
    item = list(item) if isinstance(item, tuple) else [item]
    ellipsis = item.index(Ellipsis) if Ellipsis in item else None
    if ellipsis is not None:
        item[ellipsis:ellipsis + 1] = [full] * (rank - len(item) + 1 + item.count(None))
    require(Ellipsis not in item and all(isinstance(i, (int, slice)) or i is None for i in item),
            "only integers, slices, ... and None can be imported as indices")
    require(bool(item) and item[0] == full, "indexes the batch dimension: begin with x[:, ...]")
    indexed = [(dim, entry) for dim, entry in enumerate(item) if entry != full]
    require(len(indexed) <= 1, "indexes more than one dimension at once: index one dimension per step")
    if not indexed:
        return Layer(None, {}, (input,))
    dim, entry = indexed[0]
    if ellipsis is not None and dim >= ellipsis and entry is not None:  # x[..., 0] counts from the end
        dim -= rank
    if entry is None:
        sample = list(input.shape[1:])
        return Layer("reshape", {"shape": sample[:dim - 1] + [1] + sample[dim - 1:]}, (input,))
    if isinstance(entry, int):
        if (dim % rank, entry, rank) == (1, -1, 3):
            return Layer("last_step", {}, (input,))
        return Layer("select", {"dim": dim, "index": entry}, (input,))
    require(entry.step is None or entry.step > 0, "a negative step (reversing) is not supported")
    return _slice(input, dim, entry.start or 0, entry.stop, entry.step or 1)


def _slice(input, dim: int, start: int, end: int | None, step: int = 1) -> Layer:
    size = input.shape[dim]
    if range(size)[slice(start, end, step)] == range(size):
        return Layer(None, {}, (input,))
    return Layer("slice", {"dim": dim, "start": start, "end": end, "step": step}, (input,))


def _pieces(input, dim: int, sizes: list[int]) -> tuple[Layer, ...]:
    not_batch(dim)
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    return tuple(_slice(input, dim, start, start + size) for start, size in zip(starts, sizes))


def _chunk(input, chunks: int, dim: int = 0) -> tuple[Layer, ...]:
    """x.chunk(n, dim): pieces of ceil(size / n), the last one smaller."""
    size = input.shape[dim]
    step = math.ceil(size / chunks)
    return _pieces(input, dim, [min(step, size - start) for start in range(0, size, step)])


def _split(input, split_size_or_sections, dim: int = 0) -> tuple[Layer, ...]:
    size = input.shape[dim]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        return _pieces(input, dim, [min(step, size - start) for start in range(0, size, step)])
    return _pieces(input, dim, list(split_size_or_sections))


def _select(input, dim: int, index: int) -> Layer:
    return Layer("select", {"dim": not_batch(dim), "index": index}, (input,))


register(LayerSpec(
    type="select", category="Reshaping", params=SelectParams, build=build_select, palette_name="Select",
    doc="Keeps one position of a dimension, which goes away: x[:, 0] (a class token, a first step).",
    input_dtypes=(torch.float32, torch.int64),
    export=lambda p, _: Inline(lambda xs: f"{xs[0]}.select({p.dim}, {p.index})"),
    imports=Patterns(functions={operator.getitem: _index, torch.select: _select, torch.chunk: _chunk,
                                torch.split: _split},
                     methods={"select": _select, "chunk": _chunk, "split": _split}),
    card=("dim", "index"), samples=(Sample({"in": [(4, 6)]}), Sample({"in": [(3, 4, 5)]}, {"dim": -1, "index": -2})),
    aliases=("index", "class token", "first step"),
))
register(LayerSpec(
    type="slice", category="Reshaping", params=SliceParams, build=build_slice, palette_name="Slice",
    doc="Keeps positions start to end (excluded) of one dimension: x[:, 2:5]; x.chunk maps to slices.",
    input_dtypes=(torch.float32, torch.int64), export=_slice_code,
    card=("dim", "start", "end"),
    samples=(Sample({"in": [(8, 3)]}, {"start": 2, "end": 5}),
             Sample({"in": [(3, 4, 9)]}, {"dim": -1, "start": 1, "end": -2, "step": 2})),
    aliases=("chunk", "split", "narrow", "crop"),
))
