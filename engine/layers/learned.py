"""A learned tensor used directly in forward, such as a class token or a positional table."""
from __future__ import annotations

import inspect

import torch
from pydantic import Field
from torch import nn

from .code import Code, Construct, arguments, helper
from .io import Size
from .patterns import BatchSize, Layer, Param, Patterns, require
from .registry import LayerParams, LayerSpec, Sample, register


class ParameterParams(LayerParams):
    shape: list[Size] = Field([1], min_length=1, max_length=8,
                              description="Shape of the learned tensor, the same for every sample.")
    std: float = Field(0.02, ge=0, le=10, description="Standard deviation of its normal initial values (0: zeros).")


class Learned(nn.Module):
    """A learned tensor, repeated for every sample of the batch its input has (the input's values are unused)."""

    layerloom_type = "parameter"  # how layerloom import reads this class back

    def __init__(self, *shape, std=0.02):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(shape))
        self.std, self.keep = std, (-1,) * len(shape)
        nn.init.normal_(self.weight, std=std) if std > 0 else nn.init.zeros_(self.weight)

    def forward(self, x):
        return self.weight.expand(x.shape[0], *self.keep)

    def extra_repr(self):
        return f"shape={tuple(self.weight.shape)}, std={self.std}"


LEARNED_HELPER = helper(inspect.getsource(Learned))  # what an exported file defines is this very class


def _code(p: ParameterParams, _) -> Code:
    return Construct("Learned", arguments(*p.shape, **({} if p.std == 0.02 else {"std": p.std})), (LEARNED_HELPER,))


def learned(param: Param, batch_of, rank: int) -> Layer:
    """The layer for a module's tensor used directly beside tensors of `rank` dimensions (the batch's included):
    a leading size of 1 at the batch's place is the batch's."""
    shape = tuple(param.tensor.shape)
    require(len(shape) <= rank, f"self.{param.name} has more dimensions than the tensors it meets")
    if len(shape) == rank:
        require(shape[0] == 1, f"self.{param.name} has a batch size of its own ({shape[0]})")
        shape = shape[1:]
    return _layer(param, batch_of, shape)


def _layer(param: Param, batch_of, shape: tuple[int, ...]) -> Layer:
    require(len(shape) >= 1, f"self.{param.name} is a single number: no LayerLoom layer holds one")
    return Layer("parameter", {"shape": list(shape)}, (batch_of,), weights=(("weight", param, shape),))


def expanded(param: Param, sizes: tuple) -> Layer:
    """self.token.expand(n, -1, -1), n a batch size: the token for every sample (a new first dimension, or one
    of size 1, becomes the batch's)."""
    shape, batch = tuple(param.tensor.shape), sizes[0]
    require(isinstance(batch, BatchSize) and batch.of is not None,
            "expands a module's tensor to a size that is not a batch size")
    sample = shape if len(sizes) == len(shape) + 1 else shape[1:]
    require((len(sizes) == len(shape) + 1 or (len(sizes) == len(shape) and shape[0] == 1))
            and all(s in (-1, d) for s, d in zip(sizes[1:], sample)),
            "only self.token.expand(batch, -1, ...), one copy per sample, can be imported")
    return _layer(param, batch.of, sample)


register(LayerSpec(
    type="parameter", category="Dense", params=ParameterParams, build=lambda p, _: Learned(*p.shape, std=p.std),
    palette_name="Learned tensor", input_dtypes=(torch.float32, torch.int64), export=_code,
    doc="A learned tensor given to every sample (a class token, a positional table); its input only tells the "
        "batch size.",
    imports=Patterns(exported=lambda m: Layer("parameter", {"shape": list(m.weight.shape), "std": m.std})),
    card=("shape",),
    samples=(Sample({"in": [(4,)]}, {"shape": [2, 3]}), Sample({"in": [(5, 6)]}, {"shape": [6], "std": 0})),
    aliases=("class token", "positional embedding", "learned constant"),
))
