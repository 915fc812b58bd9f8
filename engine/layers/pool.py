"""Max, average and adaptive pooling over sequences and images."""
from __future__ import annotations

from pydantic import Field
from torch import nn

from .conv import Kernel, Kernel2d, Pad, Pad2d
from .registry import LayerParams, LayerSpec, first_input, register, shape_text


class Pool1dParams(LayerParams):
    kernel_size: Kernel = Field(2, description="Window length.")
    stride: Kernel | None = Field(None, description="Step between windows (default: kernel_size).")
    padding: Pad = Field(0, description="Padding on both sides.")


class Pool2dParams(LayerParams):
    kernel_size: Kernel2d = Field(2, description="Window size: one number or [height, width].")
    stride: Kernel2d | None = Field(None, description="Step between windows (default: kernel_size).")
    padding: Pad2d = Field(0, description="Padding on each side.")


class AdaptivePool1dParams(LayerParams):
    output_size: Kernel = Field(1, description="Output length, whatever the input length.")


class AdaptivePool2dParams(LayerParams):
    output_size: Kernel2d = Field(1, description="Output size, whatever the input size: one number or [height, width].")


def _pool_builder(cls: type[nn.Module], rank: int):
    def build(p, inputs) -> nn.Module:
        shape = first_input(inputs).shape
        if len(shape) != rank + 1:
            kind = "(channels, length)" if rank == 1 else "(channels, height, width)"
            raise ValueError(f"expects input of shape {kind}, got {shape_text(shape)}")
        return cls(**p.model_dump())
    return build


_POOLS = [
    ("maxpool1d", nn.MaxPool1d, 1, Pool1dParams, "Max pool 1D", "Keeps the largest value in each window."),
    ("maxpool2d", nn.MaxPool2d, 2, Pool2dParams, "Max pool 2D", "Keeps the largest value in each window."),
    ("avgpool1d", nn.AvgPool1d, 1, Pool1dParams, "Avg pool 1D", "Averages each window."),
    ("avgpool2d", nn.AvgPool2d, 2, Pool2dParams, "Avg pool 2D", "Averages each window."),
    ("adaptive_avgpool1d", nn.AdaptiveAvgPool1d, 1, AdaptivePool1dParams, "Adaptive avg pool 1D",
     "Averages down to a fixed output length."),
    ("adaptive_avgpool2d", nn.AdaptiveAvgPool2d, 2, AdaptivePool2dParams, "Adaptive avg pool 2D",
     "Averages down to a fixed output size (global average pooling with output_size 1)."),
]
for _type, _cls, _rank, _params, _name, _doc in _POOLS:
    register(LayerSpec(
        type=_type, category="Pooling", params=_params, build=_pool_builder(_cls, _rank), palette_name=_name, doc=_doc,
    ))
