"""Element-wise activations and softmax."""
from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from .code import module_code
from .patterns import Layer, Patterns, attributes, bind, call, not_batch, require, signature_of
from .registry import LayerParams, LayerSpec, Sample, first_input, register, sample_dim


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


def _softmax_call(layer_type: str, function, module_class):
    """F.softmax takes (input, dim, _stacklevel, dtype); torch.softmax and the method take (input, dim, dtype)."""
    signature = signature_of(function, module_class)

    def convert(*args, **kwargs) -> Layer:
        values = bind(signature, args, kwargs)
        require(values.get("dim") is not None, "dim=None (an implicit dimension) is not supported: give dim")
        require(values.get("dtype") is None, "dtype is not supported")
        return Layer(layer_type, {"dim": not_batch(values["dim"])}, (values["input"],))
    return convert


def _softmax_module(layer_type: str):
    def convert(m) -> Layer:
        require(m.dim is not None, "dim=None (an implicit dimension) is not supported: give dim")
        return Layer(layer_type, {"dim": not_batch(m.dim)})
    return convert


def _patterns(layer_type: str, cls: type[nn.Module], params: type[LayerParams]) -> Patterns:
    """The module, and the functions and tensor methods of the same name (F.relu, torch.relu, x.relu(), and the
    in-place relu_ forms), whose arguments after the input are the module's constructor arguments."""
    names = tuple(params.model_fields)
    owners = [(F, "F"), (torch, "torch"), (torch.Tensor, "Tensor")]
    calls = {}
    for suffix in ("", "_"):
        for owner, label in owners:
            function = getattr(owner, layer_type + suffix, None)
            if function is not None:
                calls[(label, function)] = suffix == "_"
    if params is SoftmaxParams:
        convert = {key: _softmax_call(layer_type, getattr(F, layer_type), cls) for key in calls}
        module = _softmax_module(layer_type)
    else:
        convert = {key: call(layer_type, names, key[1], cls, inplace) for key, inplace in calls.items()}
        module = attributes(layer_type, names)
    return Patterns(
        modules={cls: module},
        functions={f: c for (label, f), c in convert.items() if label != "Tensor"},
        methods={f.__name__: c for (label, f), c in convert.items() if label == "Tensor"},
    )


_ACTIVATIONS = [
    ("relu", nn.ReLU, LayerParams, "ReLU", "max(0, x): keeps gradients alive in deep nets."),
    ("leaky_relu", nn.LeakyReLU, LeakyReluParams, "Leaky ReLU", "ReLU with a small slope for x < 0, so no unit dies."),
    ("elu", nn.ELU, EluParams, "ELU", "Smooth ReLU variant that saturates at -alpha."),
    ("gelu", nn.GELU, GeluParams, "GELU", "Smooth ReLU variant used in transformers."),
    ("relu6", nn.ReLU6, LayerParams, "ReLU6", "min(max(0, x), 6): the bounded ReLU of MobileNet."),
    ("hardswish", nn.Hardswish, LayerParams, "Hardswish", "x * relu6(x + 3) / 6: MobileNetV3's cheap swish."),
    ("hardsigmoid", nn.Hardsigmoid, LayerParams, "Hardsigmoid", "relu6(x + 3) / 6: a piecewise-linear sigmoid."),
    ("silu", nn.SiLU, LayerParams, "SiLU (swish)", "x * sigmoid(x): smooth ReLU variant of EfficientNet and MobileNetV3."),
    ("sigmoid", nn.Sigmoid, LayerParams, "Sigmoid", "Squashes to (0, 1); saturates, so gradients vanish in deep stacks."),
    ("tanh", nn.Tanh, LayerParams, "Tanh", "Squashes to (-1, 1); saturates for large inputs."),
    ("softmax", nn.Softmax, SoftmaxParams, "Softmax", "Turns scores into probabilities."),
    ("log_softmax", nn.LogSoftmax, SoftmaxParams, "Log-softmax", "Log-probabilities, for the nll loss."),
]
_SAMPLES = {
    LeakyReluParams: (Sample(params={"negative_slope": 0.1}),),
    GeluParams: (Sample(), Sample(params={"approximate": "tanh"})),
    SoftmaxParams: (Sample({"in": [(4, 6)]}), Sample({"in": [(4, 6)]}, {"dim": 1})),
}
_ALIASES = {
    "relu": ("rectifier",), "leaky_relu": ("lrelu",), "silu": ("swish",), "sigmoid": ("logistic",),
    "relu6": ("clipped relu",), "hardswish": ("h-swish",), "hardsigmoid": ("h-sigmoid",),
    "tanh": ("hyperbolic tangent",), "softmax": ("probabilities",), "log_softmax": ("logsoftmax",),
}
for _type, _cls, _params, _name, _doc in _ACTIVATIONS:
    register(LayerSpec(
        type=_type, category="Activations", params=_params, palette_name=_name, doc=_doc,
        aliases=_ALIASES.get(_type, ()),
        build=_softmax_builder(_cls) if _params is SoftmaxParams else _build(_cls),
        export=module_code(_cls), imports=_patterns(_type, _cls, _params),
        card=("dim",) if _params is SoftmaxParams else (), samples=_SAMPLES.get(_params, (Sample(),)),
        per_position=True,
    ))
