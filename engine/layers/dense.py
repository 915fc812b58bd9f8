"""Dense layers: linear, embedding, dropout."""
from __future__ import annotations

import inspect
from typing import Literal

from pydantic import Field
import torch
import torch.nn.functional as F
from torch import nn

from .code import Code, Construct, Inline, arguments, changed, helper, module_code, torch_defaults
from .init import apply_init
from .io import Size
from .patterns import TRAINING, Layer, Patterns, Unsupported, attributes, require
from .registry import LayerParams, LayerSpec, Sample, WeightedParams, first_input, register


class LinearParams(WeightedParams):
    out_features: Size = Field(64, description="Number of output units.")
    bias: bool = Field(True, description="Learn an additive bias.")


class EmbeddingParams(WeightedParams):
    num_embeddings: Size = Field(100, description="Vocabulary size: token ids run from 0 to num_embeddings - 1.")
    embedding_dim: Size = Field(32, description="Size of each token's vector.")
    padding_idx: int | None = Field(None, ge=0, description="Token id whose vector stays zero (optional).")


class DropoutParams(LayerParams):
    p: float = Field(0.5, ge=0.0, lt=1.0, description="Probability of zeroing each element while training.")


class StochasticDepthParams(LayerParams):
    p: float = Field(0.1, ge=0.0, lt=1.0, description="Probability of dropping a sample's whole branch while training.")
    mode: Literal["row", "batch"] = Field("row", description="Drop per sample (row) or the whole batch at once.")


class OneHotParams(LayerParams):
    num_classes: Size = Field(10, description="Number of classes: ids run from 0 to num_classes - 1.")
    dtype: Literal["float32", "int64"] = Field("float32", description="Of the output (torch's one_hot gives int64).")


class StochasticDepth(nn.Module):
    """Drops a residual branch per sample (mode "row") or for the whole batch while training, rescaling what
    is kept, as torchvision.ops.stochastic_depth does; the identity in eval mode."""

    layerloom_type = "stochastic_depth"  # how layerloom import reads this class back

    def __init__(self, p, mode="row"):
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        size = [x.shape[0]] + [1] * (x.dim() - 1) if self.mode == "row" else [1] * x.dim()
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
        return x * noise.div_(survival)

    def extra_repr(self):
        return f"p={self.p}, mode={self.mode!r}"


class OneHot(nn.Module):
    """Token ids as one-hot vectors."""

    def __init__(self, num_classes: int, dtype: str):
        super().__init__()
        self.num_classes, self.dtype = num_classes, dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.one_hot(x, self.num_classes).to(getattr(torch, self.dtype))

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, dtype={self.dtype}"


def build_linear(p: LinearParams, inputs) -> nn.Module:
    in_features = first_input(inputs).shape[-1]
    return apply_init(nn.Linear(in_features, p.out_features, bias=p.bias), p)


def build_embedding(p: EmbeddingParams, _) -> nn.Module:
    if p.padding_idx is not None and p.padding_idx >= p.num_embeddings:
        raise ValueError(f"padding_idx {p.padding_idx} must be below num_embeddings {p.num_embeddings}")
    return apply_init(nn.Embedding(p.num_embeddings, p.embedding_dim, padding_idx=p.padding_idx), p)


def _linear_code(p: LinearParams, shape) -> Code:
    keywords = changed({"bias": p.bias}, torch_defaults(nn.Linear))
    return Construct("nn.Linear", arguments(shape[-1], p.out_features, **keywords))


def _linear_import(m: nn.Linear) -> Layer:
    return Layer("linear", {"out_features": m.out_features, "bias": m.bias is not None})


def _embedding_import(m: nn.Embedding) -> Layer:
    require(m.max_norm is None, "max_norm (renormalizing looked-up vectors) is not supported")
    require(not m.scale_grad_by_freq, "scale_grad_by_freq=True is not supported")
    require(not m.sparse, "sparse=True (sparse gradients) is not supported")
    params = {"num_embeddings": m.num_embeddings, "embedding_dim": m.embedding_dim, "padding_idx": m.padding_idx}
    return Layer("embedding", params)


def _training(layer: Layer, training) -> Layer:
    """A layer that works in training mode only, given its call's training flag: self.training (TRAINING) keeps
    the layer, False makes the call the identity."""
    require(training is not True, "is always on, in eval mode too: pass training=self.training")
    return layer if training is TRAINING else Layer(None, {}, layer.inputs)


def _functional_dropout(input, p=0.5, training=True, inplace=False) -> Layer:
    return _training(Layer("dropout", {"p": p}, (input,), inplace=inplace), training)


def _stochastic_depth(input, p, mode, training=True) -> Layer:
    return _training(Layer("stochastic_depth", {"p": p, "mode": mode}, (input,)), training)


def _one_hot(input, num_classes=-1) -> Layer:
    require(num_classes > 0, "num_classes=-1 (taken from the data) is not supported: give num_classes")
    return Layer("one_hot", {"num_classes": num_classes, "dtype": "int64"}, (input,))


def _cast(dtype):
    """x.float(), x.long(): the identity when x has that dtype; F.one_hot(x, n).float() is one float one_hot."""
    def convert(input, *args, **kwargs) -> Layer:
        return _cast_to(input, dtype)
    return convert


def _to(input, *args, **kwargs) -> Layer:
    """x.to(dtype), x.to(device), x.type(dtype): a device changes nothing in the document."""
    dtypes = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.dtype)]
    return _cast_to(input, dtypes[0] if dtypes else input.dtype)


def _cast_to(input, dtype: torch.dtype) -> Layer:
    if dtype == input.dtype:
        return Layer(None, {}, (input,))
    origin = input.origin
    if origin is not None and origin.type == "one_hot" and dtype == torch.float32:
        return Layer("one_hot", {**origin.params, "dtype": "float32"}, origin.inputs)
    raise Unsupported(f"casts {str(input.dtype).removeprefix('torch.')} to {str(dtype).removeprefix('torch.')}: "
                      "LayerLoom converts only a one-hot encoding to float32")


register(LayerSpec(
    type="linear", category="Dense", params=LinearParams, build=build_linear, palette_name="Linear (dense)",
    aliases=("dense", "fc", "fully connected", "affine", "perceptron"),
    doc="Fully connected layer y = xW^T + b over the last dimension.",
    export=_linear_code, imports=Patterns(modules={nn.Linear: _linear_import}), card=("out_features",),
    samples=(Sample(), Sample({"in": [(4, 6)]}, {"out_features": 3, "bias": False})),
    per_position=True,
))
register(LayerSpec(
    type="embedding", category="Dense", params=EmbeddingParams, build=build_embedding, palette_name="Embedding",
    aliases=("lookup table", "word vectors"),
    input_dtypes=(torch.int64,),
    doc="Looks up a learned vector for each int64 token id.",
    export=module_code(nn.Embedding, "num_embeddings", "embedding_dim"),
    imports=Patterns(modules={nn.Embedding: _embedding_import}), card=("num_embeddings", "embedding_dim"),
    samples=(Sample({"in": [(7,)]}, {"num_embeddings": 20, "padding_idx": 0}, dtype="int64"),),
    per_position=True,
))
STOCHASTIC_DEPTH_HELPER = helper(inspect.getsource(StochasticDepth))  # exported files define this class


def _stochastic_depth_code(p: StochasticDepthParams, _) -> Code:
    return Construct("StochasticDepth", arguments(p.p, **changed({"mode": p.mode}, {"mode": "row"})),
                     (STOCHASTIC_DEPTH_HELPER,))


def _one_hot_code(p: OneHotParams, _) -> Code:
    cast = ".float()" if p.dtype == "float32" else ""
    return Inline(lambda xs: f"torch.nn.functional.one_hot({xs[0]}, {p.num_classes}){cast}")


register(LayerSpec(
    type="dropout", category="Dense", params=DropoutParams, build=lambda p, _: nn.Dropout(p.p), palette_name="Dropout",
    doc="Randomly zeroes elements while training to fight overfitting.",
    export=module_code(nn.Dropout, "p"),
    imports=Patterns(modules={nn.Dropout: attributes("dropout", ("p",))}, functions={F.dropout: _functional_dropout}),
    card=("p",), samples=(Sample(params={"p": 0.2}),),
    per_position=True,
))
register(LayerSpec(
    type="stochastic_depth", category="Dense", params=StochasticDepthParams, palette_name="Stochastic depth",
    build=lambda p, _: StochasticDepth(p.p, p.mode), export=_stochastic_depth_code,
    doc="Drops a residual branch per sample while training (torchvision's StochasticDepth); identity in eval.",
    imports=Patterns(functions={"torchvision.ops.stochastic_depth.stochastic_depth": _stochastic_depth},
                     exported=lambda m: Layer("stochastic_depth", {"p": m.p, "mode": m.mode})),
    card=("p",), samples=(Sample({"in": [(3, 4, 4)]}, {"p": 0.5}), Sample(params={"p": 0.2, "mode": "batch"})),
    aliases=("drop path",),
))
register(LayerSpec(
    type="one_hot", category="Dense", params=OneHotParams, build=lambda p, _: OneHot(p.num_classes, p.dtype),
    palette_name="One-hot", input_dtypes=(torch.int64,), export=_one_hot_code,
    doc="Turns int64 token ids into one-hot vectors (float32 for a layer to read them).",
    imports=Patterns(functions={F.one_hot: _one_hot},
                     methods={"float": _cast(torch.float32), "long": _cast(torch.int64), "to": _to, "type": _to}),
    card=("num_classes",), samples=(Sample({"in": [(5,)]}, {"num_classes": 7}, dtype="int64"),
                                    Sample({"in": [(4,)]}, {"num_classes": 8, "dtype": "int64"}, dtype="int64")),
    per_position=True,
    aliases=("one-hot encoding", "categorical"),
))
