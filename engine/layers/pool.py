"""Max, average and adaptive pooling over sequences and images."""
from __future__ import annotations

import torch.nn.functional as F
from pydantic import Field
from torch import nn

from .code import module_code
from .conv import Kernel, Kernel2d, Pad, Pad2d
from .patterns import Layer, Patterns, one, pair, require
from .registry import LayerParams, LayerSpec, Sample, first_input, register, shape_text


class Pool1dParams(LayerParams):
    kernel_size: Kernel = Field(2, description="Window length.")
    stride: Kernel | None = Field(None, description="Step between windows (default: kernel_size).")
    padding: Pad = Field(0, description="Padding on both sides.")
    ceil_mode: bool = Field(False, description="Round the output size up: a last, partial window is kept.")


class Pool2dParams(LayerParams):
    kernel_size: Kernel2d = Field(2, description="Window size: one number or [height, width].")
    stride: Kernel2d | None = Field(None, description="Step between windows (default: kernel_size).")
    padding: Pad2d = Field(0, description="Padding on each side.")
    ceil_mode: bool = Field(False, description="Round the output size up: a last, partial window is kept.")


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


def _pool(layer_type: str, size, input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
          return_indices=False, count_include_pad=True, divisor_override=None) -> Layer:
    """A max or average pooling layer, from a module's attributes or a functional call's arguments."""
    require(one(size(dilation)) == 1, f"dilation={dilation}: LayerLoom's pooling has no dilation")
    require(not return_indices, "return_indices=True is not supported")
    require(count_include_pad, "count_include_pad=False is not supported")
    require(divisor_override is None, "divisor_override is not supported")
    kernel, stride = size(kernel_size), size(stride) if stride not in (None, [], ()) else None
    params = {"kernel_size": kernel, "stride": None if stride == kernel else stride, "padding": size(padding),
              "ceil_mode": ceil_mode}
    return Layer(layer_type, params, (input,))


def _pool_module(layer_type: str, size):
    def convert(m) -> Layer:
        names = ("dilation", "return_indices", "count_include_pad", "divisor_override")
        extra = {name: getattr(m, name) for name in names if hasattr(m, name)}
        return _pool(layer_type, size, None, m.kernel_size, m.stride, m.padding, ceil_mode=m.ceil_mode, **extra)
    return convert


def _max_pool(layer_type: str, size):
    def convert(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
        return _pool(layer_type, size, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)
    return convert


def _avg_pool(layer_type: str, size):
    def convert(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                divisor_override=None):
        return _pool(layer_type, size, input, kernel_size, stride, padding, ceil_mode=ceil_mode,
                     count_include_pad=count_include_pad, divisor_override=divisor_override)
    return convert


def _adaptive_pool(layer_type: str, size, input, output_size) -> Layer:
    """An adaptive average pooling layer, from a module's attribute or a functional call's argument."""
    sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,)
    require(None not in sizes, f"output_size={output_size}: a size of None (keep the input's) is not supported")
    return Layer(layer_type, {"output_size": size(output_size)}, (input,))


def _adaptive(layer_type: str, size):
    def convert(input, output_size) -> Layer:
        return _adaptive_pool(layer_type, size, input, output_size)
    return convert


def _patterns(layer_type: str, cls: type[nn.Module], function) -> Patterns:
    """The module class and the functional call."""
    size = one if layer_type.endswith("1d") else pair
    if layer_type.startswith("adaptive"):
        convert = _adaptive(layer_type, size)
        return Patterns(modules={cls: lambda m: convert(None, m.output_size)}, functions={function: convert})
    call = _max_pool if layer_type.startswith("max") else _avg_pool
    return Patterns(modules={cls: _pool_module(layer_type, size)}, functions={function: call(layer_type, size)})


_POOLS = [
    ("maxpool1d", nn.MaxPool1d, F.max_pool1d, 1, Pool1dParams, "Max pool 1D", "Keeps the largest value in each window.",
     (Sample({"in": [(3, 8)]}), Sample({"in": [(3, 9)]}, {"kernel_size": 3, "stride": 2, "padding": 1}))),
    ("maxpool2d", nn.MaxPool2d, F.max_pool2d, 2, Pool2dParams, "Max pool 2D", "Keeps the largest value in each window.",
     (Sample({"in": [(3, 8, 8)]}), Sample({"in": [(3, 9, 6)]}, {"kernel_size": [3, 2], "stride": 1}),
      Sample({"in": [(2, 13, 13)]}, {"kernel_size": 3, "stride": 2, "ceil_mode": True}))),
    ("avgpool1d", nn.AvgPool1d, F.avg_pool1d, 1, Pool1dParams, "Avg pool 1D", "Averages each window.",
     (Sample({"in": [(3, 8)]}), Sample({"in": [(3, 9)]}, {"ceil_mode": True}))),
    ("avgpool2d", nn.AvgPool2d, F.avg_pool2d, 2, Pool2dParams, "Avg pool 2D", "Averages each window.",
     (Sample({"in": [(3, 8, 8)]}, {"kernel_size": 3, "padding": 1}),)),
    ("adaptive_avgpool1d", nn.AdaptiveAvgPool1d, F.adaptive_avg_pool1d, 1, AdaptivePool1dParams,
     "Adaptive avg pool 1D", "Averages down to a fixed output length.",
     (Sample({"in": [(3, 8)]}, {"output_size": 3}),)),
    ("adaptive_avgpool2d", nn.AdaptiveAvgPool2d, F.adaptive_avg_pool2d, 2, AdaptivePool2dParams,
     "Adaptive avg pool 2D", "Averages down to a fixed output size (global average pooling with output_size 1).",
     (Sample({"in": [(3, 8, 8)]}), Sample({"in": [(3, 7, 5)]}, {"output_size": [2, 3]}))),
]
_ALIASES = {"max": ("max pooling", "downsample"), "avg": ("average pooling", "mean pooling"),
            "adaptive_avg": ("global average pooling", "gap")}
for _type, _cls, _function, _rank, _params, _name, _doc, _samples in _POOLS:
    _first = "output_size" if _type.startswith("adaptive") else "kernel_size"
    register(LayerSpec(
        type=_type, category="Pooling", params=_params, build=_pool_builder(_cls, _rank), palette_name=_name, doc=_doc,
        aliases=_ALIASES[_type.rsplit("pool", 1)[0]],
        export=module_code(_cls, _first), imports=_patterns(_type, _cls, _function), card=(_first,),
        samples=_samples,
    ))
