"""The BPTT profile: ||dL/dh_t|| of a recurrent layer's top layer at every time step t.

torch's RNN, LSTM and GRU are fused kernels whose per-step hidden states never reach autograd, so on a
profiled step the layer runs unrolled instead: the same weights and cells (torch's own RNN/LSTM/GRU cell
kernels), step by step in Python, so every h_t is a tensor whose gradient can be kept. The step trains
exactly as it would fused. The norm is taken over the whole batch: ||dL/dh_t|| with h_t of shape (N, H)
and L the batch's mean loss; it counts every path from h_t to the loss (its output and the next steps).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..compiler import layers

_CELLS = {
    "RNN_TANH": torch._VF.rnn_tanh_cell,
    "RNN_RELU": torch._VF.rnn_relu_cell,
    "LSTM": torch._VF.lstm_cell,
    "GRU": torch._VF.gru_cell,
}


def _weights(module: nn.RNNBase, layer: int, direction: int) -> list:
    suffix = f"_l{layer}" + ("_reverse" if direction else "")
    return [getattr(module, f"{name}{suffix}", None) for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]


def unrolled(module: nn.RNNBase, x: torch.Tensor, hx=None):
    """The fused forward's result for batch-first `x` and torch-layout state `hx` ((h, c) for an LSTM),
    plus the top layer's hidden states: one list of T tensors (N, H) per direction, indexed by input time."""
    if module.proj_size:
        raise ValueError("the BPTT profile does not support projected LSTMs")
    cell, is_lstm = _CELLS[module.mode], module.mode == "LSTM"
    directions = 2 if module.bidirectional else 1
    batch, steps = x.shape[0], x.shape[1]
    if hx is None:
        zeros = x.new_zeros(module.num_layers * directions, batch, module.hidden_size)
        hx = (zeros, zeros) if is_lstm else zeros
    h0, c0 = hx if is_lstm else (hx, None)
    layer_input, final_h, final_c, top = x, [], [], []
    for layer in range(module.num_layers):
        outputs = []
        for direction in range(directions):
            index = layer * directions + direction
            weights = _weights(module, layer, direction)
            h, c = h0[index], (c0[index] if is_lstm else None)
            hidden: list = [None] * steps
            for t in (reversed(range(steps)) if direction else range(steps)):
                if is_lstm:
                    h, c = cell(layer_input[:, t], (h, c), *weights)
                else:
                    h = cell(layer_input[:, t], h, *weights)
                hidden[t] = h
            outputs.append(torch.stack(hidden, dim=1))
            final_h.append(h)
            final_c.append(c)
            if layer == module.num_layers - 1:
                top.append(hidden)
        layer_input = torch.cat(outputs, dim=-1) if directions == 2 else outputs[0]
        if module.dropout and module.training and layer < module.num_layers - 1:
            layer_input = F.dropout(layer_input, module.dropout, training=True)
    final = torch.stack(final_h)
    return layer_input, ((final, torch.stack(final_c)) if is_lstm else final), top


def _batch_first(state, fn):
    return tuple(fn(t) for t in state) if isinstance(state, tuple) else fn(state)


class BpttCapture:
    """While active, the given recurrent layers (LayerLoom's batch-first wrappers) run unrolled and keep
    the gradient of every top-layer h_t; `profiles()` reads the norms after the backward pass."""

    def __init__(self, layers: dict[str, nn.Module]):
        self.layers = layers
        self.hidden: dict[str, list[list[torch.Tensor]]] = {}

    def _forward(self, name: str, module: nn.Module):
        def forward(x, state=None):
            hx = None if state is None else _batch_first(state, lambda t: t.transpose(0, 1).contiguous())
            seq, final, top = unrolled(module, x, hx)
            if torch.is_grad_enabled():
                for direction in top:
                    for h in direction:
                        h.retain_grad()
                self.hidden[name] = top
            out = seq if module.return_sequences else module.last_output(final)
            return out, _batch_first(final, lambda t: t.transpose(0, 1))
        return forward

    def __enter__(self) -> "BpttCapture":
        self.hidden.clear()
        for name, module in self.layers.items():
            module.forward = self._forward(name, module)
        return self

    def __exit__(self, *exc) -> None:
        for module in self.layers.values():
            del module.forward

    def profiles(self) -> dict[str, list[torch.Tensor]]:
        """Per layer, one tensor of T norms per direction (forward first), still on the device."""
        result = {}
        for name, directions in self.hidden.items():
            result[name] = [
                torch.stack(torch._foreach_norm([h.grad if h.grad is not None else torch.zeros_like(h) for h in hs]))
                for hs in directions
            ]
        return result


def recurrent_layers(model: nn.Module) -> dict[str, nn.Module]:
    """The model's recurrent layers by node id (dotted path inside block instances)."""
    return {name: module for name, module in layers(model) if isinstance(module, nn.RNNBase)}
