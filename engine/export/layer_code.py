"""How each layer type reads in plain PyTorch source: a constructor call, or an expression inlined in `forward`.

Every registered type needs an entry in `CODE`; a test over the registry checks that the constructed module
equals the one LayerLoom builds. Keyword arguments are written only where they differ from torch's defaults.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

from ..layers.registry import LayerParams


@dataclass(frozen=True)
class Construct:
    """`self.<id> = <cls>(<args>)` in `__init__`, called as `self.<id>(...)` in `forward`."""

    cls: str
    args: str


@dataclass(frozen=True)
class Inline:
    """A layer without state, written as an expression over its input variables."""

    expression: Callable[[list[str]], str]


Code = Construct | Inline
Sample = tuple  # the shape of one sample arriving at the `in` port, without the batch dimension


def literal(value) -> str:
    """A Python literal for a param value: strings in double quotes, tuples and numbers as repr writes them."""
    return json.dumps(value) if isinstance(value, str) else repr(value)


def arguments(*positional, **keywords) -> str:
    """'2, 32, bias=False' from positional values and the keywords that differ from torch's defaults."""
    parts = [literal(v) for v in positional] + [f"{k}={literal(v)}" for k, v in keywords.items()]
    return ", ".join(parts)


def _changed(values: dict, defaults: dict) -> dict:
    """The entries of `values` that differ from torch's `defaults` (compared as written, so 1 and (1, 1) differ)."""
    return {k: v for k, v in values.items() if k not in defaults or defaults[k] != v}


def _module(cls: str, *positional_fields: str, defaults: dict | None = None):
    """A builder for a torch module whose params map one to one to its constructor's arguments."""
    def code(p: LayerParams, _: Sample) -> Code:
        values = p.model_dump()
        positional = [values.pop(name) for name in positional_fields]
        return Construct(cls, arguments(*positional, **_changed(values, defaults or {})))
    return code


def _linear(p, shape: Sample) -> Code:
    return Construct("nn.Linear", arguments(shape[-1], p.out_features, **_changed({"bias": p.bias}, {"bias": True})))


def _embedding(p, _: Sample) -> Code:
    extra = {} if p.padding_idx is None else {"padding_idx": p.padding_idx}
    return Construct("nn.Embedding", arguments(p.num_embeddings, p.embedding_dim, **extra))


_CONV_DEFAULTS = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "bias": True, "output_padding": 0}


def _conv(cls: str):
    def code(p, shape: Sample) -> Code:
        values = p.model_dump(exclude={"init", "init_gain", "out_channels", "kernel_size"})
        return Construct(cls, arguments(shape[0], p.out_channels, p.kernel_size, **_changed(values, _CONV_DEFAULTS)))
    return code


def _batchnorm(p, shape: Sample) -> Code:
    cls = {1: "nn.BatchNorm1d", 2: "nn.BatchNorm1d", 3: "nn.BatchNorm2d", 4: "nn.BatchNorm3d"}[len(shape)]
    defaults = {"eps": 1e-5, "momentum": 0.1, "affine": True}
    return Construct(cls, arguments(shape[0], **_changed(p.model_dump(), defaults)))


def _layernorm(p, shape: Sample) -> Code:
    normalized = shape[-p.normalized_dims:]
    keywords = _changed({"eps": p.eps, "elementwise_affine": p.elementwise_affine},
                        {"eps": 1e-5, "elementwise_affine": True})
    return Construct("nn.LayerNorm", arguments(normalized[0] if len(normalized) == 1 else normalized, **keywords))


def _flatten(p, _: Sample) -> Code:
    dims = () if (p.start_dim, p.end_dim) == (1, -1) else (p.start_dim, p.end_dim)
    return Construct("nn.Flatten", arguments(*dims))


def _upsample(p, shape: Sample) -> Code:
    mode = "nearest" if p.mode == "nearest" else {2: "linear", 3: "bilinear"}[len(shape)]
    return Construct("nn.Upsample", arguments(**_changed({"scale_factor": p.scale_factor, "mode": mode},
                                                         {"mode": "nearest"})))


def _recurrent(cls: str):
    def code(p, shape: Sample) -> Code:
        values = p.model_dump(exclude={"init", "init_gain", "hidden_size"})
        defaults = {"num_layers": 1, "bidirectional": False, "return_sequences": True, "dropout": 0.0,
                    "nonlinearity": "tanh"}
        return Construct(cls, arguments(shape[-1], p.hidden_size, **_changed(values, defaults)))
    return code


def _reshape(p, _: Sample) -> Code:
    return Inline(lambda xs: f"{xs[0]}.reshape({xs[0]}.shape[0], {', '.join(map(str, p.shape))})")


CODE: dict[str, Callable[[LayerParams, Sample], Code]] = {
    "linear": _linear,
    "embedding": _embedding,
    "dropout": _module("nn.Dropout", "p"),
    "conv1d": _conv("nn.Conv1d"),
    "conv2d": _conv("nn.Conv2d"),
    "conv_transpose2d": _conv("nn.ConvTranspose2d"),
    "maxpool1d": _module("nn.MaxPool1d", "kernel_size", defaults={"stride": None, "padding": 0}),
    "maxpool2d": _module("nn.MaxPool2d", "kernel_size", defaults={"stride": None, "padding": 0}),
    "avgpool1d": _module("nn.AvgPool1d", "kernel_size", defaults={"stride": None, "padding": 0}),
    "avgpool2d": _module("nn.AvgPool2d", "kernel_size", defaults={"stride": None, "padding": 0}),
    "adaptive_avgpool1d": _module("nn.AdaptiveAvgPool1d", "output_size"),
    "adaptive_avgpool2d": _module("nn.AdaptiveAvgPool2d", "output_size"),
    "batchnorm": _batchnorm,
    "layernorm": _layernorm,
    "relu": _module("nn.ReLU"),
    "leaky_relu": _module("nn.LeakyReLU", "negative_slope"),
    "elu": _module("nn.ELU", defaults={"alpha": 1.0}),
    "gelu": _module("nn.GELU", defaults={"approximate": "none"}),
    "sigmoid": _module("nn.Sigmoid"),
    "tanh": _module("nn.Tanh"),
    "softmax": _module("nn.Softmax", defaults={}),
    "log_softmax": _module("nn.LogSoftmax", defaults={}),
    "rnn": _recurrent("RNN"),
    "lstm": _recurrent("LSTM"),
    "gru": _recurrent("GRU"),
    "flatten": _flatten,
    "reshape": _reshape,
    "upsample": _upsample,
    "repeat": lambda p, _: Inline(lambda xs: f"{xs[0]}.unsqueeze(1).expand(-1, {p.steps}, -1)"),
    "last_step": lambda p, _: Inline(lambda xs: f"{xs[0]}[:, -1]"),
    "add": lambda p, _: Inline(lambda xs: " + ".join(xs)),
    "concat": lambda p, _: Inline(lambda xs: f"torch.cat([{', '.join(xs)}], dim={p.dim})"),
}
RECURRENT = ("RNN", "LSTM", "GRU")  # helper classes the generated file defines when it uses them
