"""The gradient monitor: per-layer gradient, weight and update norms, the BPTT profile and activation health.

Every number is computed on the device with fused calls (`torch._foreach_norm`) and read to the host in one
transfer per logged step. A layer is a node: its parameters are the GraphModule's `node_id.*` tensors.
The weight norm of a step is that of the weights the step started from (those that made its loss), and the
update ratio is ||w_after - w_before|| / ||w_before|| over all of a layer's parameters.
"""
from __future__ import annotations

import torch
from torch import nn

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
        device = self.params[0].device if self.params else torch.device("cpu")
        self._owner = torch.tensor([self.nodes.index(n) for n in self.node_of_param], device=device, dtype=torch.long)
        self.recurrent = recurrent_layers(model)
        self.health_layers = {n: m for n, m in model.named_children() if isinstance(m, self.HEALTH_TYPES)}

    def grads(self) -> list[torch.Tensor]:
        return [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]

    def capture(self) -> Capture:
        """Context for a profiled forward pass: activation health and the BPTT profile."""
        return Capture(self.health_layers, self.recurrent)

    @torch.no_grad()
    def per_node(self, *norm_lists: list[torch.Tensor]) -> torch.Tensor:
        """Lists of per-parameter norms combined into one L2 norm per node: shape (len(norm_lists), nodes)."""
        squares = torch.stack([n for norms in norm_lists for n in norms]).float().square()
        combined = torch.zeros(len(norm_lists), len(self.nodes), device=squares.device)
        return combined.index_add_(1, self._owner, squares.view(len(norm_lists), -1)).sqrt()

    @torch.no_grad()
    def weights_before(self) -> list[torch.Tensor]:
        """A copy of the weights, taken before the optimizer step of a logged step."""
        return torch._foreach_mul(self.params, 1.0)

    @torch.no_grad()
    def step_event(self, *, step: int, epoch: int, loss: torch.Tensor, grad_norms: list[torch.Tensor],
                   total: torch.Tensor, total_clipped: torch.Tensor, clipped: torch.Tensor,
                   before: list[torch.Tensor] | None, capture: Capture | None) -> StepEvent:
        """Everything measured at a logged step, read from the device in a single transfer."""
        count = len(self.params)
        if before is None:
            norm_lists = [grad_norms, torch._foreach_norm(self.params)]
        else:
            both = torch._foreach_norm(before + torch._foreach_sub(self.params, before))
            norm_lists = [grad_norms, both[:count], both[count:]]
        scalars = [loss.detach(), total, total_clipped, clipped] + (capture.scalars if capture else [])
        profiles = capture.bptt.profiles() if capture and capture.bptt else {}
        parts = [torch.stack([s.float() for s in scalars])]
        if self.nodes:
            parts.append(self.per_node(*norm_lists).view(-1))
        parts += [p.float() for directions in profiles.values() for p in directions]
        values = torch.cat(parts).tolist()
        return self._event(step, epoch, values, len(scalars), len(norm_lists), profiles, capture)

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

    def first_nonfinite(self, grad_norms: list[torch.Tensor]) -> str | None:
        """The layer nearest the output whose gradient is not finite: the first such layer in backward order."""
        finite = torch.isfinite(self.per_node(grad_norms)[0]).tolist() if self.nodes else []
        return next((node for node, ok in zip(reversed(self.nodes), reversed(finite)) if not ok), None)
