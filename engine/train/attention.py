"""Attention maps: what each attention layer looks at, measured on a fixed set of probe samples.

At every profiled step the model runs once more, in eval mode and without gradients, on the run's probe samples
(the first validation samples, the same all run long), and each attention layer's weights are kept: the first
sample's maps for the dashboard and the canvas card, and every head's entropy over all the samples for the
diagnosis. The entropy of a query's weights is divided by its maximum, log of the keys it may see (position t of
a causal layer sees t + 1), so 0 means every query looks at one key and 1 that it looks at all of them alike.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ..document import Architecture
from ..inline import flatten
from ..layers.attention import MultiheadAttention
from .positions import layer_paths

PROBE_SAMPLES = 8


def attention_layers(model: nn.Module, paths) -> dict[str, MultiheadAttention]:
    """The attention inside each layer at the given dotted paths (a multihead_attention layer, or an encoder
    layer's), by path."""
    found = {}
    for path in paths:
        inner = next((m for m in model.get_submodule(path).modules() if isinstance(m, MultiheadAttention)), None)
        if inner is not None:
            found[path] = inner
    return found


def normalized_entropy(weights: torch.Tensor, causal: bool) -> torch.Tensor:
    """Per head, the mean over samples and queries of entropy / log(keys visible), for weights (N, heads, T_q, T_k);
    queries that see one key only (the first of a causal layer) are left out."""
    steps, keys = weights.shape[-2:]
    visible = torch.arange(1, steps + 1, device=weights.device).clamp(max=keys) if causal else \
        torch.full((steps,), keys, device=weights.device)
    entropy = -(weights * weights.clamp_min(1e-30).log()).sum(-1)            # (N, heads, T_q)
    counted = visible > 1
    share = entropy[..., counted] / visible[counted].float().log()
    return share.mean(dim=(0, 2)) if share.numel() else torch.zeros(weights.shape[1], device=weights.device)


def _source(arch: Architecture, node: str, port: str) -> str | None:
    """The input node whose positions reach `node`'s `port`, following each layer's main input upstream."""
    for _ in range(len(arch.nodes)):
        edge = next((e for e in arch.edges if e.target == node and e.target_port == port), None)
        if edge is None:
            return None
        node = edge.source
        if arch.node(node).type == "input":
            return node
        port = "in" if any(e.target == node and e.target_port == "in" for e in arch.edges) else "query"
    return None


def position_tokens(arch: Architecture, path: str, inputs: tuple[torch.Tensor, ...],
                    vocab: list[str] | None) -> tuple[list[str] | None, list[str] | None]:
    """The tokens of the first probe sample at the query and key positions of the layer at `path`, where they are
    token ids (`arch` flat: a layer inside an instance is the node its path names with underscores)."""
    node = path.replace(".", "_")
    if not vocab or node not in {n.id for n in arch.nodes}:
        return None, None
    ids = dict(zip((n.id for n in arch.nodes if n.type == "input"), inputs))
    cross = any(e.target == node and e.target_port == "query" for e in arch.edges)
    found = []
    for port in (("query", "key_value") if cross else ("in", "in")):
        source = _source(arch, node, port)
        tokens = ids.get(source)
        usable = tokens is not None and not tokens.is_floating_point() and tokens.dim() == 2
        found.append([vocab[i] if 0 <= i < len(vocab) else "?" for i in tokens[0].tolist()] if usable else None)
    return found[0], found[1]


class AttentionProbe:
    """Measures the attention of `arch`'s attention layers in `model` on the probe inputs (batch-first tensors, one
    per input node), naming the positions with `vocab`'s tokens where they are token ids."""

    def __init__(self, model: nn.Module, arch: Architecture, inputs: tuple[torch.Tensor, ...],
                 vocab: list[str] | None = None):
        self.model = model
        self.layers = attention_layers(model, layer_paths(arch, "attention"))
        self.inputs = tuple(x[:PROBE_SAMPLES] for x in inputs)
        flat = flatten(arch) if self.layers and vocab else arch
        self.tokens = {path: position_tokens(flat, path, self.inputs, vocab) for path in self.layers}

    def __bool__(self) -> bool:
        return bool(self.layers) and len(self.inputs[0]) > 0

    def measure(self) -> dict[str, "Measured"]:
        """Per attention layer: the first sample's weights (heads, T_q, T_k), each head's entropy share, and the
        tokens of its positions."""
        kept, handles = {}, []
        for node, layer in self.layers.items():
            handles.append(layer.register_forward_hook(
                lambda module, _args, output, node=node: kept.__setitem__(node, output[1])))
        training = self.model.training
        try:
            self.model.eval()
            with torch.no_grad():
                self.model(*self.inputs)
        finally:
            self.model.train(training)
            for handle in handles:
                handle.remove()
        return {node: Measured(weights[0], normalized_entropy(weights, self.layers[node].causal),
                               *(tokens if tokens and len(tokens) == size else None  # a layer between may resize
                                 for tokens, size in zip(self.tokens[node], weights.shape[-2:])))
                for node, weights in kept.items()}


class Measured(NamedTuple):
    """One attention layer's maps on the probe samples, still on the device."""

    weights: torch.Tensor   # (heads, T_q, T_k), of the first sample
    entropy: torch.Tensor   # (heads,)
    queries: list[str] | None
    keys: list[str] | None
