"""Dense layers: linear, embedding, dropout."""
from __future__ import annotations

from pydantic import Field
import torch
from torch import nn

from .init import apply_init
from .io import Size
from .registry import LayerParams, LayerSpec, WeightedParams, first_input, register


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


register(LayerSpec(
    type="linear", category="Dense", params=LinearParams, build=build_linear, palette_name="Linear (dense)",
    doc="Fully connected layer y = xW^T + b over the last dimension.",
))
register(LayerSpec(
    type="embedding", category="Dense", params=EmbeddingParams, build=build_embedding, palette_name="Embedding",
    input_dtypes=(torch.int64,),
    doc="Looks up a learned vector for each int64 token id.",
))
register(LayerSpec(
    type="dropout", category="Dense", params=DropoutParams, build=lambda p, _: nn.Dropout(p.p), palette_name="Dropout",
    doc="Randomly zeroes elements while training to fight overfitting.",
))
