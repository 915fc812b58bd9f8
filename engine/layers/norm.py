"""Batch and layer normalization."""
from __future__ import annotations

import torch.nn.functional as F
from pydantic import Field
from torch import nn

from .code import Code, Construct, arguments, changed, torch_defaults
from .patterns import Layer, Param, Patterns, require
from .registry import LayerParams, LayerSpec, Sample, first_input, register, shape_text


class BatchNormParams(LayerParams):
    eps: float = Field(1e-5, gt=0, le=1, description="Added to the variance for stability.")
    momentum: float = Field(0.1, gt=0, le=1, description="Weight of the current batch in the running statistics.")
    affine: bool = Field(True, description="Learn a scale and shift per feature.")


class LayerNormParams(LayerParams):
    eps: float = Field(1e-5, gt=0, le=1, description="Added to the variance for stability.")
    normalized_dims: int = Field(1, ge=1, le=3, description="How many trailing dimensions are normalized together.")
    elementwise_affine: bool = Field(True, description="Learn a scale and shift per element.")


_BATCHNORMS = {1: nn.BatchNorm1d, 2: nn.BatchNorm1d, 3: nn.BatchNorm2d, 4: nn.BatchNorm3d}


def build_batchnorm(p: BatchNormParams, inputs) -> nn.Module:
    shape = first_input(inputs).shape
    cls = _BATCHNORMS.get(len(shape))
    if cls is None:
        raise ValueError(f"expects (features,), (channels, length) or (channels, height, width), got {shape_text(shape)}")
    return cls(shape[0], eps=p.eps, momentum=p.momentum, affine=p.affine)


def build_layernorm(p: LayerNormParams, inputs) -> nn.Module:
    shape = first_input(inputs).shape
    if p.normalized_dims > len(shape):
        raise ValueError(f"normalized_dims {p.normalized_dims} exceeds the rank of input shape {shape_text(shape)}")
    return nn.LayerNorm(shape[-p.normalized_dims:], eps=p.eps, elementwise_affine=p.elementwise_affine)


def _batchnorm_code(p: BatchNormParams, shape) -> Code:
    cls = _BATCHNORMS[len(shape)]
    return Construct(f"nn.{cls.__name__}", arguments(shape[0], **changed(p.model_dump(), torch_defaults(cls))))


def _layernorm_code(p: LayerNormParams, shape) -> Code:
    normalized = shape[-p.normalized_dims:]
    keywords = changed({"eps": p.eps, "elementwise_affine": p.elementwise_affine}, torch_defaults(nn.LayerNorm))
    return Construct("nn.LayerNorm", arguments(normalized[0] if len(normalized) == 1 else normalized, **keywords))


def _batchnorm_import(m) -> Layer:
    require(m.track_running_stats, "track_running_stats=False: LayerLoom's batch norm keeps running statistics")
    require(m.momentum is not None, "momentum=None (a cumulative average) is not supported")
    return Layer("batchnorm", {"eps": m.eps, "momentum": m.momentum, "affine": m.affine})


def _functional_layernorm(input, normalized_shape, weight=None, bias=None, eps=1e-5) -> Layer:
    """F.layer_norm(x, shape, self.weight, self.bias, eps), as a LayerNorm2d written by hand calls it."""
    shape = tuple(normalized_shape)
    require(tuple(input.shape[-len(shape):]) == shape, f"normalized_shape {list(shape)} is not the input's last sizes")
    require((weight is None) == (bias is None), "a weight without a bias (or a bias without a weight) is not supported")
    for tensor in (weight, bias):
        require(tensor is None or (isinstance(tensor, Param) and tuple(tensor.tensor.shape) == shape),
                f"weight and bias must be the module's tensors of shape {list(shape)}")
    params = {"eps": eps, "normalized_dims": len(shape), "elementwise_affine": weight is not None}
    weights = (("weight", weight, None), ("bias", bias, None)) if weight is not None else ()
    return Layer("layernorm", params, (input,), weights=weights)


def _layernorm_import(m: nn.LayerNorm) -> Layer:
    require(not m.elementwise_affine or m.bias is not None, "bias=False is not supported")
    params = {"eps": m.eps, "normalized_dims": len(m.normalized_shape), "elementwise_affine": m.elementwise_affine}
    return Layer("layernorm", params)


register(LayerSpec(
    type="batchnorm", category="Normalization", params=BatchNormParams, build=build_batchnorm, palette_name="Batch norm",
    aliases=("bn", "batch normalization"),
    doc="Normalizes each feature or channel over the batch (1d for vectors and (C, L), 2d for images).",
    export=_batchnorm_code, imports=Patterns(modules={cls: _batchnorm_import for cls in _BATCHNORMS.values()}),
    samples=(Sample(), Sample({"in": [(3, 8)]}), Sample({"in": [(3, 4, 4)]})),
))
register(LayerSpec(
    type="layernorm", category="Normalization", params=LayerNormParams, build=build_layernorm, palette_name="Layer norm",
    aliases=("ln", "layer normalization"),
    doc="Normalizes each sample over its trailing dimensions.",
    export=_layernorm_code,
    imports=Patterns(modules={nn.LayerNorm: _layernorm_import}, functions={F.layer_norm: _functional_layernorm}),
    samples=(Sample({"in": [(5, 6)]}), Sample({"in": [(3, 4, 4)]}, {"normalized_dims": 2})),
    per_position=True,
))
