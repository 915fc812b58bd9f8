"""Dense layers: linear, embedding, dropout."""
from __future__ import annotations

from pydantic import Field
import torch
import torch.nn.functional as F
from torch import nn

from .code import Code, Construct, arguments, changed, module_code, torch_defaults
from .init import apply_init
from .io import Size
from .patterns import Layer, Patterns, Unsupported, attributes, require
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


def _functional_dropout(input, p=0.5, training=True, inplace=False) -> Layer:
    raise Unsupported("functional dropout has its training flag fixed when traced: use nn.Dropout")


register(LayerSpec(
    type="linear", category="Dense", params=LinearParams, build=build_linear, palette_name="Linear (dense)",
    aliases=("dense", "fc", "fully connected", "affine", "perceptron"),
    doc="Fully connected layer y = xW^T + b over the last dimension.",
    export=_linear_code, imports=Patterns(modules={nn.Linear: _linear_import}), card=("out_features",),
    samples=(Sample(), Sample({"in": [(4, 6)]}, {"out_features": 3, "bias": False})),
))
register(LayerSpec(
    type="embedding", category="Dense", params=EmbeddingParams, build=build_embedding, palette_name="Embedding",
    aliases=("lookup table", "word vectors"),
    input_dtypes=(torch.int64,),
    doc="Looks up a learned vector for each int64 token id.",
    export=module_code(nn.Embedding, "num_embeddings", "embedding_dim"),
    imports=Patterns(modules={nn.Embedding: _embedding_import}), card=("num_embeddings", "embedding_dim"),
    samples=(Sample({"in": [(7,)]}, {"num_embeddings": 20, "padding_idx": 0}, dtype="int64"),),
))
register(LayerSpec(
    type="dropout", category="Dense", params=DropoutParams, build=lambda p, _: nn.Dropout(p.p), palette_name="Dropout",
    doc="Randomly zeroes elements while training to fight overfitting.",
    export=module_code(nn.Dropout, "p"),
    imports=Patterns(modules={nn.Dropout: attributes("dropout", ("p",))}, functions={F.dropout: _functional_dropout}),
    card=("p",), samples=(Sample(params={"p": 0.2}),),
))
