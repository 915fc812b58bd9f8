"""Convolutions over sequences (1d) and images (2d), and the transposed convolution."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from torch import nn

from .code import Code, Construct, arguments, changed, torch_defaults
from .init import apply_init
from .io import Size
from .patterns import Layer, Patterns, one, pair, require
from .registry import LayerSpec, Sample, WeightedParams, first_input, register, shape_text

Kernel = Annotated[int, Field(ge=1, le=4096)]
Pad = Annotated[int, Field(ge=0, le=4096)]
Kernel2d = Kernel | tuple[Kernel, Kernel]
Pad2d = Pad | tuple[Pad, Pad]


class _ConvParams(WeightedParams):
    out_channels: Size = Field(16, description="Number of output channels (filters).")
    stride: Kernel2d = Field(1, description="Step between filter positions.")
    dilation: Kernel2d = Field(1, description="Spacing between filter taps.")
    groups: Size = Field(1, description="Split channels into groups convolved separately.")
    bias: bool = Field(True, description="Learn a bias per output channel.")


class Conv1dParams(_ConvParams):
    kernel_size: Kernel = Field(3, description="Filter length.")
    stride: Kernel = Field(1, description="Step between filter positions.")
    dilation: Kernel = Field(1, description="Spacing between filter taps.")
    padding: Pad | Literal["same", "valid"] = Field(0, description="Zeros added on both sides, or 'same'/'valid'.")


class Conv2dParams(_ConvParams):
    kernel_size: Kernel2d = Field(3, description="Filter size: one number or [height, width].")
    padding: Pad2d | Literal["same", "valid"] = Field(0, description="Zeros added on each side, or 'same'/'valid'.")


class ConvTranspose2dParams(_ConvParams):
    kernel_size: Kernel2d = Field(2, description="Filter size: one number or [height, width].")
    stride: Kernel2d = Field(2, description="Upsampling step.")
    padding: Pad2d = Field(0, description="Removed from each side of the output.")
    output_padding: Pad2d = Field(0, description="Extra size added to one side of the output.")


def _conv_builder(cls: type[nn.Module], rank: int):
    def build(p, inputs) -> nn.Module:
        shape = first_input(inputs).shape
        if len(shape) != rank + 1:
            kind = "(channels, length)" if rank == 1 else "(channels, height, width)"
            raise ValueError(f"expects input of shape {kind}, got {shape_text(shape)}")
        extra = {"output_padding": _output_padding(p)} if cls is nn.ConvTranspose2d else {}
        module = cls(
            shape[0], p.out_channels, p.kernel_size, stride=p.stride, padding=p.padding,
            dilation=p.dilation, groups=p.groups, bias=p.bias, **extra,
        )
        return apply_init(module, p)
    return build


def _output_padding(p: ConvTranspose2dParams):
    """The output padding, checked as torch checks it when running (not when building)."""
    pairs = zip(*(v if isinstance(v, tuple) else (v, v) for v in (p.output_padding, p.stride, p.dilation)))
    if any(pad >= max(stride, dilation) for pad, stride, dilation in pairs):
        raise ValueError(f"output_padding {p.output_padding} must be smaller than the stride or the dilation")
    return p.output_padding


def _conv_code(cls: type[nn.Module]):
    defaults = torch_defaults(cls)

    def code(p, shape) -> Code:
        values = p.model_dump(exclude={"init", "init_gain", "out_channels", "kernel_size"})
        positional = arguments(shape[0], p.out_channels, p.kernel_size, **changed(values, defaults))
        return Construct(f"nn.{cls.__name__}", positional)
    return code


def _conv_import(layer_type: str, cls: type[nn.Module], size) -> Patterns:
    def convert(m) -> Layer:
        require(m.padding_mode == "zeros", f"padding_mode={m.padding_mode!r}: LayerLoom convolutions pad with zeros")
        params = {
            "out_channels": m.out_channels, "kernel_size": size(m.kernel_size), "stride": size(m.stride),
            "padding": m.padding if isinstance(m.padding, str) else size(m.padding),
            "dilation": size(m.dilation), "groups": m.groups, "bias": m.bias is not None,
        }
        if layer_type == "conv_transpose2d":
            params["output_padding"] = size(m.output_padding)
        return Layer(layer_type, params)
    return Patterns(modules={cls: convert})


_CARD = ("out_channels", "kernel_size", "stride", "padding")
register(LayerSpec(
    type="conv1d", category="Convolution", params=Conv1dParams, build=_conv_builder(nn.Conv1d, 1),
    palette_name="Conv 1D", aliases=("temporal convolution",), doc="Slides learned filters along a (channels, length) sequence.",
    export=_conv_code(nn.Conv1d), imports=_conv_import("conv1d", nn.Conv1d, one), card=_CARD,
    samples=(Sample({"in": [(3, 10)]}), Sample({"in": [(4, 9)]}, {"padding": "same", "dilation": 2, "groups": 2})),
))
register(LayerSpec(
    type="conv2d", category="Convolution", params=Conv2dParams, build=_conv_builder(nn.Conv2d, 2),
    palette_name="Conv 2D", aliases=("convolution", "cnn"), doc="Slides learned filters over a (channels, height, width) image.",
    export=_conv_code(nn.Conv2d), imports=_conv_import("conv2d", nn.Conv2d, pair), card=_CARD,
    samples=(Sample({"in": [(3, 8, 8)]}),
             Sample({"in": [(2, 9, 7)]}, {"kernel_size": [3, 1], "stride": 2, "padding": 1})),
))
register(LayerSpec(
    type="conv_transpose2d", category="Convolution", params=ConvTranspose2dParams,
    build=_conv_builder(nn.ConvTranspose2d, 2), palette_name="Transposed conv 2D",
    aliases=("deconvolution", "deconv", "upconv"),
    doc="Learned upsampling of an image (the decoder half of an encoder-decoder).",
    export=_conv_code(nn.ConvTranspose2d), imports=_conv_import("conv_transpose2d", nn.ConvTranspose2d, pair),
    card=_CARD[:3],
    samples=(Sample({"in": [(3, 4, 4)]}), Sample({"in": [(2, 5, 5)]}, {"kernel_size": 3, "output_padding": 1})),
))
