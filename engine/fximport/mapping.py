"""The table from torch modules, functions and tensor methods to LayerLoom layers, with a params converter each.

A converter returns a `Layer`, or raises `Unsupported` with the reason when no LayerLoom layer computes exactly
what the torch call computes. Module converters read the module's attributes; function and method converters take
the call's arguments under torch's own signature, with the model's tensors as `Port`s.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn


class Unsupported(Exception):
    """Why a module or call has no faithful LayerLoom equivalent."""


@dataclass(frozen=True)
class Port:
    """A tensor of the document being built: an output port of one of its nodes."""

    node: str
    port: str = "out"


class BatchSize:
    """`x.size(0)` or `x.shape[0]`: usable only as the first size of a reshape."""


BATCH = BatchSize()


@dataclass(frozen=True)
class Layer:
    """A node to create; `type` None passes its one input through. `shape` is the per-sample output shape
    the layer must have (checked after shape inference); `inplace` marks a call that overwrites its input."""

    type: str | None
    params: dict = field(default_factory=dict)
    inputs: tuple = ()
    inplace: bool = False
    shape: tuple[int, ...] | None = None


def require(ok: bool, reason: str) -> None:
    if not ok:
        raise Unsupported(reason)


def _one(value):
    """A 1d size: (k,) -> k."""
    return value[0] if isinstance(value, (tuple, list)) and len(value) == 1 else value


def _pair(value):
    """A 2d size: (k, k) -> k, (a, b) -> (a, b)."""
    if isinstance(value, (tuple, list)):
        return value[0] if len(set(value)) == 1 else tuple(value)
    return value


def _sample_dim(dim, what: str = "dim"):
    require(dim != 0, f"{what} 0 is the batch dimension")
    return dim


# --- modules -------------------------------------------------------------------------------------------

def _linear(m: nn.Linear) -> Layer:
    return Layer("linear", {"out_features": m.out_features, "bias": m.bias is not None})


def _conv(layer_type: str, size):
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
    return convert


def _pool(layer_type: str, size, input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
         return_indices=False, count_include_pad=True, divisor_override=None) -> Layer:
    """A max or average pooling layer, from a module's attributes or a functional call's arguments."""
    require(_one(size(dilation)) == 1, f"dilation={dilation}: LayerLoom's pooling has no dilation")
    require(not ceil_mode, "ceil_mode=True is not supported")
    require(not return_indices, "return_indices=True is not supported")
    require(count_include_pad, "count_include_pad=False is not supported")
    require(divisor_override is None, "divisor_override is not supported")
    kernel, stride = size(kernel_size), size(stride) if stride not in (None, [], ()) else None
    params = {"kernel_size": kernel, "stride": None if stride == kernel else stride, "padding": size(padding)}
    return Layer(layer_type, params, (input,))


def _pool_module(layer_type: str, size):
    def convert(m) -> Layer:
        names = ("dilation", "return_indices", "count_include_pad", "divisor_override")
        extra = {name: getattr(m, name) for name in names if hasattr(m, name)}
        return _pool(layer_type, size, None, m.kernel_size, m.stride, m.padding, ceil_mode=m.ceil_mode, **extra)
    return convert


def _adaptive_module(layer_type: str, size):
    def convert(m) -> Layer:
        return _adaptive_pool(layer_type, size, None, m.output_size)
    return convert


def _adaptive_pool(layer_type: str, size, input, output_size) -> Layer:
    """An adaptive average pooling layer, from a module's attribute or a functional call's argument."""
    sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,)
    require(None not in sizes, f"output_size={output_size}: a size of None (keep the input's) is not supported")
    return Layer(layer_type, {"output_size": size(output_size)}, (input,))


def _batchnorm(m) -> Layer:
    require(m.track_running_stats, "track_running_stats=False: LayerLoom's batch norm keeps running statistics")
    require(m.momentum is not None, "momentum=None (a cumulative average) is not supported")
    return Layer("batchnorm", {"eps": m.eps, "momentum": m.momentum, "affine": m.affine})


def _layernorm(m: nn.LayerNorm) -> Layer:
    require(not m.elementwise_affine or m.bias is not None, "bias=False is not supported")
    params = {"eps": m.eps, "normalized_dims": len(m.normalized_shape), "elementwise_affine": m.elementwise_affine}
    return Layer("layernorm", params)


def _embedding(m: nn.Embedding) -> Layer:
    require(m.max_norm is None, "max_norm (renormalizing looked-up vectors) is not supported")
    require(not m.scale_grad_by_freq, "scale_grad_by_freq=True is not supported")
    require(not m.sparse, "sparse=True (sparse gradients) is not supported")
    params = {"num_embeddings": m.num_embeddings, "embedding_dim": m.embedding_dim, "padding_idx": m.padding_idx}
    return Layer("embedding", params)


def _upsample(m: nn.Upsample) -> Layer:
    require(m.size is None, "a fixed output size is not supported: use scale_factor")
    scale = _pair(m.scale_factor)
    require(not isinstance(scale, tuple), f"scale_factor={m.scale_factor}: one factor for every dimension is needed")
    require(m.mode in ("nearest", "linear", "bilinear"), f"mode={m.mode!r} is not supported")
    require(not m.align_corners, "align_corners=True is not supported")
    require(not m.recompute_scale_factor, "recompute_scale_factor=True is not supported")
    return Layer("upsample", {"scale_factor": float(scale), "mode": m.mode})


def _recurrent(layer_type: str):
    def convert(m) -> Layer:
        require(m.batch_first, "batch_first=False: LayerLoom's recurrent layers are batch-first (N, T, F)")
        require(m.bias, "bias=False is not supported: LayerLoom's recurrent layers have biases")
        require(getattr(m, "proj_size", 0) == 0, "proj_size (a projected LSTM) is not supported")
        params = {"hidden_size": m.hidden_size, "num_layers": m.num_layers, "bidirectional": m.bidirectional,
                  "dropout": m.dropout if m.num_layers > 1 else 0.0}  # torch ignores dropout on a single layer
        if layer_type == "rnn":
            params["nonlinearity"] = m.nonlinearity
        return Layer(layer_type, params)
    return convert


def _softmax_module(layer_type: str):
    def convert(m) -> Layer:
        require(m.dim is not None, "dim=None (an implicit dimension) is not supported: give dim")
        return Layer(layer_type, {"dim": _sample_dim(m.dim)})
    return convert


MODULES = {
    nn.Linear: _linear,
    nn.Conv1d: _conv("conv1d", _one),
    nn.Conv2d: _conv("conv2d", _pair),
    nn.ConvTranspose2d: _conv("conv_transpose2d", _pair),
    nn.MaxPool1d: _pool_module("maxpool1d", _one),
    nn.MaxPool2d: _pool_module("maxpool2d", _pair),
    nn.AvgPool1d: _pool_module("avgpool1d", _one),
    nn.AvgPool2d: _pool_module("avgpool2d", _pair),
    nn.AdaptiveAvgPool1d: _adaptive_module("adaptive_avgpool1d", _one),
    nn.AdaptiveAvgPool2d: _adaptive_module("adaptive_avgpool2d", _pair),
    nn.BatchNorm1d: _batchnorm,
    nn.BatchNorm2d: _batchnorm,
    nn.BatchNorm3d: _batchnorm,
    nn.LayerNorm: _layernorm,
    nn.Embedding: _embedding,
    nn.Dropout: lambda m: Layer("dropout", {"p": m.p}, inplace=m.inplace),
    nn.Flatten: lambda m: Layer("flatten", {"start_dim": _sample_dim(m.start_dim, "start_dim"), "end_dim": m.end_dim}),
    nn.Upsample: _upsample,
    nn.Identity: lambda m: Layer(None),
    nn.ReLU: lambda m: Layer("relu", inplace=m.inplace),
    nn.LeakyReLU: lambda m: Layer("leaky_relu", {"negative_slope": m.negative_slope}, inplace=m.inplace),
    nn.ELU: lambda m: Layer("elu", {"alpha": m.alpha}, inplace=m.inplace),
    nn.GELU: lambda m: Layer("gelu", {"approximate": m.approximate}),
    nn.Sigmoid: lambda m: Layer("sigmoid"),
    nn.Tanh: lambda m: Layer("tanh"),
    nn.Softmax: _softmax_module("softmax"),
    nn.LogSoftmax: _softmax_module("log_softmax"),
    nn.RNN: _recurrent("rnn"),
    nn.LSTM: _recurrent("lstm"),
    nn.GRU: _recurrent("gru"),
}
RECURRENT = (nn.RNN, nn.LSTM, nn.GRU)


# --- functions and tensor methods ------------------------------------------------------------------------

def _activation(layer_type: str, *names: str):
    """A converter for an activation call whose arguments after the input are `names`, in torch's order; all but
    `inplace` are the layer's params under the same name."""
    def convert(input, *args, **kwargs) -> Layer:
        require(len(args) <= len(names), "too many arguments")
        values = dict(zip(names, args))
        for name, value in kwargs.items():
            require(name in names and name not in values, f"unexpected argument {name!r}")
            values[name] = value
        params = {name: value for name, value in values.items() if name != "inplace"}
        return Layer(layer_type, params, (input,), inplace=bool(values.get("inplace", False)))
    return convert


def _softmax(layer_type: str, functional: bool):
    """F.softmax takes (input, dim, _stacklevel, dtype); torch.softmax and the method take (input, dim, dtype)."""
    def convert(input, dim=None, dtype=None) -> Layer:
        require(dim is not None, "dim=None (an implicit dimension) is not supported: give dim")
        require(dtype is None, "dtype is not supported")
        return Layer(layer_type, {"dim": _sample_dim(dim)}, (input,))

    def convert_functional(input, dim=None, _stacklevel=3, dtype=None) -> Layer:
        return convert(input, dim, dtype)
    return convert_functional if functional else convert


def _flatten(input, start_dim=0, end_dim=-1) -> Layer:
    _sample_dim(start_dim, "start_dim")
    return Layer("flatten", {"start_dim": start_dim, "end_dim": end_dim}, (input,))


def _reshape(input, *shape) -> Layer:
    """x.view(x.size(0), ...) keeps the batch: a reshape (a flatten for -1). x.view(-1, ...) keeps it only when
    each sample has exactly the values of the new shape, which is checked once shapes are known."""
    shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    rest = list(shape[1:])
    require(len(shape) >= 2 and (shape[0] is BATCH or shape[0] == -1),
            "changes the batch dimension: begin the new shape with x.size(0) (or -1)")
    require(all(type(d) is int for d in rest), "the sizes after the batch size must be constant numbers")
    if shape[0] is BATCH:
        return Layer("flatten", {}, (input,)) if rest == [-1] else Layer("reshape", {"shape": rest}, (input,))
    require(-1 not in rest, "x.view(-1, ...) with another -1 leaves the batch size open")
    layer_type, params = ("flatten", {}) if len(rest) == 1 else ("reshape", {"shape": rest})
    return Layer(layer_type, params, (input,), shape=tuple(rest))


def _add(input, other, alpha=1) -> Layer:
    require(alpha == 1, f"alpha={alpha} is not supported")
    return Layer("add", {}, (input, other))


def _cat(tensors, dim=0) -> Layer:
    return Layer("concat", {"dim": _sample_dim(dim)}, tuple(tensors))


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


def _adaptive_function(layer_type: str, size):
    return lambda input, output_size: _adaptive_pool(layer_type, size, input, output_size)


def _functional_dropout(input, p=0.5, training=True, inplace=False) -> Layer:
    raise Unsupported("functional dropout has its training flag fixed when traced: use nn.Dropout")


def tensor_index(input, item) -> Layer:
    """Tensor indexing: only x[:, -1] (a sequence's last step, trailing full slices allowed) has a layer."""
    item = item if isinstance(item, tuple) else (item,)
    full = slice(None)
    last_step = len(item) >= 2 and item[0] == full and item[1] == -1 and all(i in (full, ...) for i in item[2:])
    require(last_step, "only x[:, -1] (the last step of a sequence) can be imported")
    return Layer("last_step", {}, (input,))


_RELU = _activation("relu", "inplace")
_SIGMOID, _TANH = _activation("sigmoid"), _activation("tanh")
_LEAKY = _activation("leaky_relu", "negative_slope", "inplace")
_ELU = _activation("elu", "alpha", "inplace")
_GELU = _activation("gelu", "approximate")

FUNCTIONS = {
    F.relu: _RELU, torch.relu: _RELU, F.leaky_relu: _LEAKY, F.elu: _ELU, F.gelu: _GELU,
    torch.sigmoid: _SIGMOID, F.sigmoid: _SIGMOID, torch.tanh: _TANH, F.tanh: _TANH,
    F.softmax: _softmax("softmax", True), F.log_softmax: _softmax("log_softmax", True),
    torch.softmax: _softmax("softmax", False), torch.log_softmax: _softmax("log_softmax", False),
    torch.flatten: _flatten, torch.reshape: lambda input, shape: _reshape(input, shape),
    operator.add: _add, torch.add: _add, torch.cat: _cat, torch.concat: _cat,
    F.max_pool1d: _max_pool("maxpool1d", _one), F.max_pool2d: _max_pool("maxpool2d", _pair),
    F.avg_pool1d: _avg_pool("avgpool1d", _one), F.avg_pool2d: _avg_pool("avgpool2d", _pair),
    F.adaptive_avg_pool1d: _adaptive_function("adaptive_avgpool1d", _one),
    F.adaptive_avg_pool2d: _adaptive_function("adaptive_avgpool2d", _pair),
    F.dropout: _functional_dropout,
}
METHODS = {
    "relu": _RELU, "sigmoid": _SIGMOID, "tanh": _TANH,
    "softmax": _softmax("softmax", False), "log_softmax": _softmax("log_softmax", False),
    "flatten": _flatten, "view": _reshape, "reshape": _reshape, "add": _add,
    "contiguous": lambda input: Layer(None, {}, (input,)),
}
