"""Batch and layer normalization."""
from __future__ import annotations

from pydantic import Field
from torch import nn

from .registry import LayerParams, LayerSpec, first_input, register, shape_text


class BatchNormParams(LayerParams):
    eps: float = Field(1e-5, gt=0, le=1, description="Added to the variance for stability.")
    momentum: float = Field(0.1, gt=0, le=1, description="Weight of the current batch in the running statistics.")
    affine: bool = Field(True, description="Learn a scale and shift per feature.")


class LayerNormParams(LayerParams):
    eps: float = Field(1e-5, gt=0, le=1, description="Added to the variance for stability.")
    normalized_dims: int = Field(1, ge=1, le=3, description="How many trailing dimensions are normalized together.")
    elementwise_affine: bool = Field(True, description="Learn a scale and shift per element.")


def build_batchnorm(p: BatchNormParams, inputs) -> nn.Module:
    shape = first_input(inputs).shape
    cls = {1: nn.BatchNorm1d, 2: nn.BatchNorm1d, 3: nn.BatchNorm2d, 4: nn.BatchNorm3d}.get(len(shape))
    if cls is None:
        raise ValueError(f"expects (features,), (channels, length) or (channels, height, width), got {shape_text(shape)}")
    return cls(shape[0], eps=p.eps, momentum=p.momentum, affine=p.affine)


def build_layernorm(p: LayerNormParams, inputs) -> nn.Module:
    shape = first_input(inputs).shape
    if p.normalized_dims > len(shape):
        raise ValueError(f"normalized_dims {p.normalized_dims} exceeds the rank of input shape {shape_text(shape)}")
    return nn.LayerNorm(shape[-p.normalized_dims:], eps=p.eps, elementwise_affine=p.elementwise_affine)


register(LayerSpec(
    type="batchnorm", category="Normalization", params=BatchNormParams, build=build_batchnorm, palette_name="Batch norm",
    doc="Normalizes each feature or channel over the batch (1d for vectors and (C, L), 2d for images).",
))
register(LayerSpec(
    type="layernorm", category="Normalization", params=LayerNormParams, build=build_layernorm, palette_name="Layer norm",
    doc="Normalizes each sample over its trailing dimensions.",
))
