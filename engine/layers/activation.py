"""Element-wise activations and softmax."""
from __future__ import annotations

from typing import Literal

from pydantic import Field
from torch import nn

from .registry import LayerParams, LayerSpec, first_input, register, sample_dim


class LeakyReluParams(LayerParams):
    negative_slope: float = Field(0.01, ge=0, le=1, description="Slope for negative inputs.")


class EluParams(LayerParams):
    alpha: float = Field(1.0, gt=0, le=10, description="Saturation value for negative inputs.")


class GeluParams(LayerParams):
    approximate: Literal["none", "tanh"] = Field("none", description="Exact GELU or its tanh approximation.")


class SoftmaxParams(LayerParams):
    dim: int = Field(
        -1, ge=-9, le=8, description="Dimension that sums to one, as in torch: 1 is a sample's first (0, the batch, is refused).",
    )


def _build(cls):
    return lambda p, _: cls(**p.model_dump())


def _softmax_builder(cls):
    def build(p: SoftmaxParams, inputs) -> nn.Module:
        sample_dim(p.dim, first_input(inputs).shape)
        return cls(p.dim)
    return build


_ACTIVATIONS = [
    ("relu", nn.ReLU, LayerParams, "ReLU", "max(0, x): keeps gradients alive in deep nets."),
    ("leaky_relu", nn.LeakyReLU, LeakyReluParams, "Leaky ReLU", "ReLU with a small slope for x < 0, so no unit dies."),
    ("elu", nn.ELU, EluParams, "ELU", "Smooth ReLU variant that saturates at -alpha."),
    ("gelu", nn.GELU, GeluParams, "GELU", "Smooth ReLU variant used in transformers."),
    ("sigmoid", nn.Sigmoid, LayerParams, "Sigmoid", "Squashes to (0, 1); saturates, so gradients vanish in deep stacks."),
    ("tanh", nn.Tanh, LayerParams, "Tanh", "Squashes to (-1, 1); saturates for large inputs."),
    ("softmax", nn.Softmax, SoftmaxParams, "Softmax", "Turns scores into probabilities."),
    ("log_softmax", nn.LogSoftmax, SoftmaxParams, "Log-softmax", "Log-probabilities, for the nll loss."),
]
for _type, _cls, _params, _name, _doc in _ACTIVATIONS:
    _builder = _softmax_builder(_cls) if _params is SoftmaxParams else _build(_cls)
    register(LayerSpec(
        type=_type, category="Activations", params=_params, build=_builder, palette_name=_name, doc=_doc,
    ))
