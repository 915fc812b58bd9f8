"""The gradient monitor: per-layer gradient, weight and update norms, the BPTT profile and activation health.

Every number is computed on the device and read to the host in one transfer per logged step. A layer is a
node: its parameters are the GraphModule's `node_id.*` tensors, contiguous in parameter order. So a logged step
flattens the gradients, the weights before the optimizer step and the update into one vector each, and one
fused call (`torch._foreach_norm`) over each vector's per-layer slices gives every layer's norms: a handful of
calls however many tensors a layer has, which is what keeps monitoring cheap for small models on a CPU.
The weight norm of a step is that of the weights the step started from (those that made its loss), and the
update ratio is ||w_after - w_before|| / ||w_before|| over all of a layer's parameters.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch._utils import _flatten_dense_tensors

from .bptt import recurrent_layers
from .events import StepEvent
from .health import Capture


class GradientMonitor:
    """Knows the model's weighted layers and turns a step's gradients and weights into a StepEvent."""

    HEALTH_TYPES = (nn.ReLU, nn.Sigmoid, nn.Tanh)

    def __init__(self, model: nn.Module):
        groups: dict[str, list[nn.Parameter]] = {}
        for name, param in model.named_parameters():
            if param.requires_grad:
                groups.setdefault(name.split(".")[0], []).append(param)
        self.nodes = list(groups)
        self.params = [p for ps in groups.values() for p in ps]
        self.node_of_param = [node for node, ps in groups.items() for _ in ps]
        self.sizes = [sum(p.numel() for p in ps) for ps in groups.values()]
        self._weights = [p.detach().view(-1) for p in self.params]  # flat aliases: they see every in-place update
        self.recurrent = recurrent_layers(model)
        self.health_layers = {n: m for n, m in model.named_children() if isinstance(m, self.HEALTH_TYPES)}

    def grads(self) -> list[torch.Tensor]:
        return [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]

    def capture(self) -> Capture:
        """Context for a profiled forward pass: activation health and the BPTT profile."""
        return Capture(self.health_layers, self.recurrent)

    def flatten(self, grads: list[torch.Tensor]) -> torch.Tensor:
        """The gradients as one flat copy: a logged step takes it before clipping changes them."""
        return _flatten_dense_tensors(grads)

    def snapshot(self) -> torch.Tensor:
        """The weights as one flat copy, taken before the optimizer step of a logged step."""
        return torch.cat(self._weights)

    def step_event(self, *, step: int, epoch: int, loss: torch.Tensor, grads: torch.Tensor | None, total: torch.Tensor,
                   total_clipped: torch.Tensor, clipped: torch.Tensor, before: torch.Tensor | None,
                   capture: Capture | None) -> StepEvent:
        """Everything measured at a logged step, read from the device in a single transfer. `grads` is the
        `flatten()`ed gradients, `total` their norm; `before` the `snapshot()` taken before the step, or None."""
        if not self.nodes:
            vectors = []
        elif before is None:
            vectors = [grads, torch.cat(self._weights)]
        else:
            vectors = [grads, before, torch.cat(self._weights).sub_(before)]
        norms = torch._foreach_norm([part for v in vectors for part in v.split_with_sizes(self.sizes)]) if vectors else []
        scalars = [loss.detach(), total, total_clipped, clipped.float()] + (capture.scalars if capture else [])
        profiles = capture.bptt.profiles() if capture and capture.bptt else {}
        numbers = torch.stack([*scalars, *norms])
        curves = [p for directions in profiles.values() for p in directions]
        values = (torch.cat([numbers, *curves]) if curves else numbers).tolist()
        return self._event(step, epoch, values, len(scalars), len(vectors), profiles, capture)

    def _event(self, step, epoch, values, n_scalars, n_lists, profiles, capture) -> StepEvent:
        loss, total, total_clipped, clipped = values[:4]
        activations = capture.activations(values[4:n_scalars]) if capture else {}
        n = len(self.nodes)
        per_node = [values[n_scalars + i * n:n_scalars + (i + 1) * n] for i in range(n_lists if n else 0)]
        position = n_scalars + n_lists * n
        bptt, reverse = {}, {}
        for name, directions in profiles.items():
            for target, profile in zip((bptt, reverse), directions):
                target[name] = values[position:position + len(profile)]
                position += len(profile)
        return StepEvent.model_construct(  # every value is a Python number built here: validation would only cost time
            step=step, epoch=epoch, loss=loss, grad_norm=dict(zip(self.nodes, per_node[0])) if n else {},
            weight_norm=dict(zip(self.nodes, per_node[1])) if n else {},
            update_ratio={node: change / max(weight, 1e-12) for node, weight, change in zip(
                self.nodes, per_node[1], per_node[2])} if n and n_lists == 3 else {},
            grad_norm_total=total, grad_norm_clipped=total_clipped, clipped=bool(clipped),
            bptt=bptt or None, bptt_reverse=reverse or None, activations=activations or None,
        )

    def first_nonfinite(self, event: StepEvent) -> str | None:
        """The layer nearest the output whose gradient is not finite: the first such layer in backward order."""
        return next((node for node in reversed(self.nodes) if not math.isfinite(event.grad_norm[node])), None)

