"""Layers that join several inputs: add (residual / skip connections) and concat."""
from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from .registry import InputPort, LayerParams, LayerSpec, register


class ConcatParams(LayerParams):
    dim: int = Field(-1, ge=-8, le=7, description="Dimension to join along (as in torch.cat; 0 is the batch, 1 the channels).")


class Add(nn.Module):
    """Sums its inputs: the skip connection of a residual block."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
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


def build_add(_: LayerParams, inputs) -> nn.Module:
    shapes = [m.shape for m in inputs["in"]]
    if len(set(shapes)) > 1:
        raise ValueError("inputs have shapes " + " and ".join(str(s) for s in shapes) + "; add needs one shape")
    return Add()


_MANY = (InputPort("in", multiple=True, min_count=2),)
register(LayerSpec(
    type="add", category="Merge and residual", build=build_add, inputs=_MANY, palette_name="Add (residual)",
    doc="Element-wise sum of two or more inputs of one shape: the residual (skip) connection.",
))
register(LayerSpec(
    type="concat", category="Merge and residual", params=ConcatParams, build=lambda p, _: Concat(p.dim),
    inputs=_MANY, palette_name="Concat", doc="Joins two or more inputs along one dimension.",
))
