"""Attention: multi-head attention (self or cross) and the transformer encoder layer (positional.py: positions).

Sequences are batch-first (N, T, E) like every sequence in LayerLoom. Both attention layers are torch's own
modules (nn.MultiheadAttention, nn.TransformerEncoderLayer) with the same weights and state_dict keys, so a
document's layer equals torch's given the same weights, and `layerloom import` copies them as they are. The
attention weights (N, heads, T_q, T_k) are always computed: the `weights` port and the monitor's maps read them.
"""
from __future__ import annotations

import inspect
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from .code import Code, Construct, arguments, changed, helper, torch_defaults
from .init import apply_init
from .io import Size
from .patterns import Layer, Patterns, require
from .registry import InputPort, LayerSpec, Sample, WeightedParams, register, shape_text

Heads = Field(4, ge=1, le=1024, description="Heads attending in parallel, each over embedding size / num_heads "
                                            "features (it must divide the input's last dimension).")


class AttentionParams(WeightedParams):
    num_heads: int = Heads
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout on the attention weights while training.")
    causal: bool = Field(False, description="Position t attends only to positions up to t (left-to-right models).")
    bias: bool = Field(True, description="Learn biases in the input and output projections.")


class EncoderLayerParams(WeightedParams):
    num_heads: int = Heads
    dim_feedforward: Size = Field(256, description="Width of the feed-forward network's hidden layer.")
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="Dropout on the attention weights and after each sublayer.")
    activation: Literal["relu", "gelu"] = Field("relu", description="Activation of the feed-forward network.")
    norm_first: bool = Field(False, description="Pre-norm (layer norm before each sublayer, steadier in deep stacks); "
                                                "false: post-norm, as in the original Transformer.")
    causal: bool = Field(False, description="Position t attends only to positions up to t (left-to-right models).")
    layer_norm_eps: float = Field(1e-5, gt=0, le=1, description="Added to the variance in both layer norms.")


def causal_mask(steps: int, keys: int, device) -> torch.Tensor:
    """True where query position t may not look: at keys after t."""
    return torch.ones(steps, keys, dtype=torch.bool, device=device).triu(1)


class MultiheadAttention(nn.MultiheadAttention):
    """nn.MultiheadAttention over batch-first sequences: self-attention on `x`, or `query` attending to `key_value`.
    Returns the output and every head's attention weights (N, heads, T_q, T_k)."""

    layerloom_type = "multihead_attention"  # how layerloom import reads this class back

    def __init__(self, embed_dim, num_heads, causal=False, **kwargs):
        super().__init__(embed_dim, num_heads, batch_first=True, **kwargs)
        self.causal = causal

    def forward(self, x=None, query=None, key_value=None):
        # torch's own computation when it trains; never its eval-mode fast path, which exports differently
        q = (x if x is not None else query).transpose(0, 1)
        kv = q if key_value is None else key_value.transpose(0, 1)
        mask = causal_mask(q.shape[0], kv.shape[0], q.device) if self.causal else None
        out, weights = nn.functional.multi_head_attention_forward(
            q, kv, kv, self.embed_dim, self.num_heads, self.in_proj_weight, self.in_proj_bias, None, None, False,
            self.dropout, self.out_proj.weight, self.out_proj.bias, training=self.training, attn_mask=mask,
            average_attn_weights=False)
        return out.transpose(0, 1), weights


class TransformerEncoderLayer(nn.TransformerEncoderLayer):
    """nn.TransformerEncoderLayer (batch-first) whose attention is LayerLoom's, so its maps can be read, and whose
    forward is the plain one at all times (torch's eval-mode fast path computes the same in one fused call)."""

    layerloom_type = "transformer_encoder_layer"  # how layerloom import reads this class back

    def __init__(self, d_model, nhead, causal=False, **kwargs):
        super().__init__(d_model, nhead, batch_first=True, **kwargs)
        attention = self.self_attn
        self.self_attn = MultiheadAttention(d_model, nhead, causal, dropout=attention.dropout,
                                            bias=attention.in_proj_bias is not None)
        self.self_attn.load_state_dict(attention.state_dict())
        self.causal = causal

    def forward(self, x):
        if self.norm_first:
            x = x + self.dropout1(self.self_attn(self.norm1(x))[0])
            return x + self._feed_forward(self.norm2(x))
        x = self.norm1(x + self.dropout1(self.self_attn(x)[0]))
        return self.norm2(x + self._feed_forward(x))

    def _feed_forward(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


ATTENTION_HELPER = helper(inspect.getsource(causal_mask) + "\n\n" + inspect.getsource(MultiheadAttention))
ENCODER_HELPER = helper(inspect.getsource(TransformerEncoderLayer))


def sequence_shape(meta, port: str) -> tuple[int, int]:
    """(steps, features) of a sequence arriving at `port`; ValueError naming the port otherwise."""
    if len(meta.shape) != 2:
        raise ValueError(f"port '{port}' expects a sequence (steps, features), got {shape_text(meta.shape)}")
    return meta.shape


def attention_inputs(inputs) -> tuple:
    """The metas of (query, key_value): `in` alone attends to itself; `query` and `key_value` together, across."""
    if "in" in inputs:
        if inputs.keys() & {"query", "key_value"}:
            raise ValueError("connect either 'in' (self-attention) or 'query' and 'key_value' (cross-attention), "
                             "not both")
        return inputs["in"][0], inputs["in"][0]
    if inputs.keys() != {"query", "key_value"}:
        raise ValueError("connect 'in' (self-attention), or both 'query' and 'key_value' (cross-attention)")
    return inputs["query"][0], inputs["key_value"][0]


def _heads(num_heads: int, size: int) -> None:
    if size % num_heads:
        raise ValueError(f"num_heads {num_heads} must divide the embedding size {size} (the input's last dimension)")


def build_attention(p: AttentionParams, inputs) -> nn.Module:
    query, key_value = attention_inputs(inputs)
    _, size = sequence_shape(query, "in" if "in" in inputs else "query")
    _, key_size = sequence_shape(key_value, "key_value")
    if key_size != size:
        raise ValueError(f"key_value has {key_size} features but query {size}: make them equal (a linear layer)")
    _heads(p.num_heads, size)
    if p.causal and "in" not in inputs:
        raise ValueError("causal masks a sequence attending to itself: use the 'in' port, or causal false")
    return apply_init(MultiheadAttention(size, p.num_heads, p.causal, dropout=p.dropout, bias=p.bias), p)


def build_encoder_layer(p: EncoderLayerParams, inputs) -> nn.Module:
    _, size = sequence_shape(inputs["in"][0], "in")
    _heads(p.num_heads, size)
    return apply_init(TransformerEncoderLayer(size, p.num_heads, p.causal, **_encoder_arguments(p)), p)


def _encoder_arguments(p: EncoderLayerParams) -> dict:
    return {"dim_feedforward": p.dim_feedforward, "dropout": p.dropout, "activation": p.activation,
            "layer_norm_eps": p.layer_norm_eps, "norm_first": p.norm_first}


def _attention_code(p: AttentionParams, shape) -> Code:
    values = changed({"causal": p.causal, "dropout": p.dropout, "bias": p.bias}, torch_defaults(MultiheadAttention,
                                                                                             nn.MultiheadAttention))
    return Construct("MultiheadAttention", arguments(shape[-1], p.num_heads, **values), (ATTENTION_HELPER,))


def _encoder_code(p: EncoderLayerParams, shape) -> Code:
    values = changed({"causal": p.causal, **_encoder_arguments(p)},
                     torch_defaults(TransformerEncoderLayer, nn.TransformerEncoderLayer))
    return Construct("TransformerEncoderLayer", arguments(shape[-1], p.num_heads, **values),
                     (ATTENTION_HELPER, ENCODER_HELPER))


def _attention_params(m: nn.MultiheadAttention) -> dict:
    require(m.bias_k is None and not m.add_zero_attn, "add_bias_kv and add_zero_attn are not supported")
    require(m._qkv_same_embed_dim, "kdim or vdim other than embed_dim is not supported")
    return {"num_heads": m.num_heads, "dropout": m.dropout, "bias": m.in_proj_bias is not None}


def _attention_call(m: nn.MultiheadAttention, query, key, value, key_padding_mask=None, need_weights=True,
                    attn_mask=None, average_attn_weights=True, is_causal=False) -> Layer:
    """attn(q, k, v, ...) with k the same tensor as v, and no mask: self-attention when q is k too."""
    require(key == value, "keys and values are different tensors: LayerLoom's attention reads both from one")
    require(key_padding_mask is None and attn_mask is None and not is_causal,
            "masks (attn_mask, key_padding_mask, is_causal) are not imported")
    require(m.batch_first, "batch_first=False: build it with batch_first=True")
    params = _attention_params(m)
    averaged = need_weights and average_attn_weights
    inputs = dict(inputs=(query,)) if query == key else dict(named=(("query", query), ("key_value", key)))
    return Layer("multihead_attention", params, **inputs, refused={1: _AVERAGED} if averaged else {})


_AVERAGED = ("uses the attention weights averaged over heads: LayerLoom's weights port gives each head's "
             "(average_attn_weights=False)")


def _exported_attention(m: MultiheadAttention) -> Layer:
    return Layer("multihead_attention", {**_attention_params(m), "causal": m.causal})


def _encoder_params(m: nn.TransformerEncoderLayer) -> dict:
    require(m.self_attn.batch_first, "batch_first=False: build it with batch_first=True")
    kinds = {F.relu: "relu", F.gelu: "gelu"}
    activation = kinds.get(m.activation) or next((name for cls, name in ((nn.ReLU, "relu"), (nn.GELU, "gelu"))
                                                  if type(m.activation) is cls), None)
    require(activation is not None and getattr(m.activation, "approximate", "none") == "none",
            "activation: only relu and gelu are supported")
    require(m.linear1.bias is not None and m.norm1.bias is not None, "bias=False is not supported")
    return {"num_heads": m.self_attn.num_heads, "dim_feedforward": m.linear1.out_features, "dropout": m.dropout.p,
            "activation": activation, "norm_first": m.norm_first, "layer_norm_eps": m.norm1.eps}


def _exported_encoder(m: TransformerEncoderLayer) -> Layer:
    return Layer("transformer_encoder_layer", {**_encoder_params(m), "causal": m.causal})


def encoder_chain(m: nn.TransformerEncoder) -> list[tuple[Layer, nn.Module]]:
    """nn.TransformerEncoder: its layers one after another, then its final layer norm if it has one."""
    require(m.norm is None or type(m.norm) is nn.LayerNorm, "a final norm other than nn.LayerNorm is not supported")
    chain = [(Layer("transformer_encoder_layer", _encoder_params(layer)), layer) for layer in m.layers]
    if m.norm is not None:
        chain.append((Layer("layernorm", {"eps": m.norm.eps, "normalized_dims": len(m.norm.normalized_shape),
                                          "elementwise_affine": m.norm.elementwise_affine}), m.norm))
    return chain


_SEQUENCE = {"in": [(5, 8)]}
register(LayerSpec(
    type="multihead_attention", category="Attention", params=AttentionParams, build=build_attention,
    inputs=(InputPort("in", optional=True), InputPort("query", optional=True), InputPort("key_value", optional=True)),
    outputs=("out", "weights"), palette_name="Multi-head attention",
    doc="Scaled dot-product attention of several heads: every position reads every other directly. Connect 'in' "
        "to attend to itself, or 'query' and 'key_value' (an encoder's output) to attend across; 'weights' gives "
        "each head's attention (heads, T_q, T_k), after dropout while training.",
    aliases=("self-attention", "cross-attention", "mha", "transformer"),
    presets={"Causal self-attention": {"causal": True}}, export=_attention_code,
    imports=Patterns(calls={nn.MultiheadAttention: _attention_call}, exported=_exported_attention),
    card=("num_heads", "causal"), sequence=True, attention=True,
    samples=(Sample(_SEQUENCE, {"num_heads": 2}), Sample(_SEQUENCE, {"num_heads": 4, "causal": True, "dropout": 0.1}),
             Sample({"query": [(3, 8)], "key_value": [(6, 8)]}, {"num_heads": 2, "bias": False})),
))
register(LayerSpec(
    type="transformer_encoder_layer", category="Attention", params=EncoderLayerParams, build=build_encoder_layer,
    palette_name="Transformer encoder layer",
    doc="Self-attention then a feed-forward network, each added back to its input (residual) and layer-normalized: "
        "the block transformers stack.",
    inside=("post-norm (norm_first false):\n"
            "    x = norm1(x + dropout1(self_attn(x)))\n"
            "    x = norm2(x + dropout2(linear2(dropout(activation(linear1(x))))))\n"
            "pre-norm (norm_first true):\n"
            "    x = x + dropout1(self_attn(norm1(x)))\n"
            "    x = x + dropout2(linear2(dropout(activation(linear1(norm2(x))))))\n"
            "self_attn: multihead_attention (num_heads, dropout, causal) on x; linear1: embedding size -> "
            "dim_feedforward; linear2: back to the embedding size\n"
            "The built-in blocks transformer_encoder and transformer_encoder_prenorm (the palette's Blocks) are this\n"
            "layer as a graph of these nodes, to open and change (docs/blocks.md)"),
    aliases=("transformer block", "encoder block", "transformer"),
    presets={"Causal transformer layer": {"causal": True}}, export=_encoder_code,
    imports=Patterns(modules={nn.TransformerEncoderLayer: lambda m: Layer("transformer_encoder_layer",
                                                                          _encoder_params(m))},
                     chains={nn.TransformerEncoder: encoder_chain}, exported=_exported_encoder),
    card=("num_heads", "dim_feedforward", "norm_first"), sequence=True, attention=True,
    samples=(Sample(_SEQUENCE, {"num_heads": 2, "dim_feedforward": 16}),
             Sample(_SEQUENCE, {"num_heads": 4, "dim_feedforward": 12, "activation": "gelu", "norm_first": True,
                                "causal": True, "dropout": 0.0})),
))
