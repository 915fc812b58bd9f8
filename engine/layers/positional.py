"""Positional information for attention, which by itself cannot tell positions apart: a fixed sinusoidal code or a
learned vector per position, added to a batch-first sequence (N, T, E)."""
from __future__ import annotations

import inspect

import torch
from pydantic import Field
from torch import nn

from .attention import sequence_shape
from .code import Code, Construct, arguments, changed, helper, torch_defaults
from .init import apply_init
from .io import Size
from .patterns import Layer, Patterns
from .registry import LayerParams, LayerSpec, Sample, WeightedParams, register


class PositionalEncodingParams(LayerParams):
    base: float = Field(10000.0, gt=1, le=1e9, description="Wavelengths run geometrically from 2π to base · 2π.")


class PositionalEmbeddingParams(WeightedParams):
    max_length: Size = Field(512, description="Longest sequence: one learned vector per position up to it.")


class SinusoidalEncoding(nn.Module):
    """Adds the fixed sinusoidal position code of "Attention is all you need": sin and cos of position / base^(2i/E)."""

    layerloom_type = "positional_encoding"  # how layerloom import reads this class back

    def __init__(self, steps, size, base=10000.0):
        super().__init__()
        position = torch.arange(steps, dtype=torch.float32).unsqueeze(1)
        angle = position * base ** (-torch.arange(0, size, 2, dtype=torch.float32) / size)
        table = torch.zeros(steps, size)
        table[:, 0::2] = torch.sin(angle)
        table[:, 1::2] = torch.cos(angle[:, :size // 2])
        self.register_buffer("table", table, persistent=False)  # computed, never learned nor saved
        self.base = base

    def forward(self, x):
        return x + self.table

    def extra_repr(self):
        return f"steps={self.table.shape[0]}, size={self.table.shape[1]}, base={self.base}"


class PositionalEmbedding(nn.Module):
    """Adds a learned vector per position (GPT, BERT, ViT), for sequences up to max_length."""

    layerloom_type = "positional_embedding"  # how layerloom import reads this class back

    def __init__(self, max_length, size):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(max_length, size))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x):
        return x + self.weight[:x.shape[1]]

    def extra_repr(self):
        return f"max_length={self.weight.shape[0]}, size={self.weight.shape[1]}"


ENCODING_HELPER = helper(inspect.getsource(SinusoidalEncoding))
EMBEDDING_HELPER = helper(inspect.getsource(PositionalEmbedding))


def build_embedding(p: PositionalEmbeddingParams, inputs) -> nn.Module:
    steps, size = sequence_shape(inputs["in"][0], "in")
    if steps > p.max_length:
        raise ValueError(f"the sequence has {steps} steps, more than max_length {p.max_length}")
    return apply_init(PositionalEmbedding(p.max_length, size), p)


def _encoding_code(p: PositionalEncodingParams, shape) -> Code:
    values = changed({"base": p.base}, torch_defaults(SinusoidalEncoding))
    return Construct("SinusoidalEncoding", arguments(*shape, **values), (ENCODING_HELPER,))


def _embedding_code(p: PositionalEmbeddingParams, shape) -> Code:
    return Construct("PositionalEmbedding", arguments(p.max_length, shape[-1]), (EMBEDDING_HELPER,))


_SEQUENCE = {"in": [(5, 8)]}
register(LayerSpec(
    type="positional_encoding", category="Attention", params=PositionalEncodingParams,
    build=lambda p, inputs: SinusoidalEncoding(*sequence_shape(inputs["in"][0], "in"), base=p.base),
    palette_name="Positional encoding (sinusoidal)",
    doc="Adds a fixed sinusoidal code of each position, so attention can tell positions apart; nothing to learn.",
    aliases=("position encoding", "sinusoidal"), export=_encoding_code,
    imports=Patterns(exported=lambda m: Layer("positional_encoding", {"base": m.base})),
    samples=(Sample(_SEQUENCE), Sample({"in": [(4, 7)]}, {"base": 100.0})),
))
register(LayerSpec(
    type="positional_embedding", category="Attention", params=PositionalEmbeddingParams, build=build_embedding,
    palette_name="Positional embedding (learned)",
    doc="Adds a learned vector for each position (GPT, BERT, ViT), so attention can tell positions apart.",
    aliases=("position embedding", "learned positions"), export=_embedding_code,
    imports=Patterns(exported=lambda m: Layer("positional_embedding", {"max_length": m.weight.shape[0]})),
    card=("max_length",), samples=(Sample(_SEQUENCE, {"max_length": 16}),),
))
