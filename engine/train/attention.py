"""Attention maps: what each attention layer looks at, measured on a fixed set of probe samples.

At every profiled step the model runs once more, in eval mode and without gradients, on the run's probe samples
(the first validation samples, the same all run long), and each attention layer's weights are kept: the first
sample's maps for the dashboard and the canvas card, and every head's entropy over all the samples for the
diagnosis. The entropy of a query's weights is divided by its maximum, log of the keys it may see (position t of
a causal layer sees t + 1), so 0 means every query looks at one key and 1 that it looks at all of them alike.
"""
from __future__ import annotations

import torch
from torch import nn

from ..layers.attention import MultiheadAttention

PROBE_SAMPLES = 8


def attention_layers(model: nn.Module, nodes) -> dict[str, MultiheadAttention]:
    """The attention inside each of the given nodes (a multihead_attention node, or an encoder layer's), by id."""
    children = dict(model.named_children())
    found = {}
    for node in nodes:
        inner = next((m for m in children[node].modules() if isinstance(m, MultiheadAttention)), None)
        if inner is not None:
            found[node] = inner
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


class AttentionProbe:
    """Measures the attention of the given nodes of `model` on the probe inputs (batch-first tensors)."""

    def __init__(self, model: nn.Module, nodes, inputs: tuple[torch.Tensor, ...]):
        self.model = model
        self.layers = attention_layers(model, nodes)
        self.inputs = tuple(x[:PROBE_SAMPLES] for x in inputs)

    def __bool__(self) -> bool:
        return bool(self.layers) and len(self.inputs[0]) > 0

    def measure(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Per attention layer: the first sample's weights (heads, T_q, T_k) and each head's entropy share."""
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
        return {node: (weights[0], normalized_entropy(weights, self.layers[node].causal))
                for node, weights in kept.items()}
