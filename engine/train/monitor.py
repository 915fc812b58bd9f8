"""The gradient monitor: per-layer gradient, weight and update norms, the BPTT profile and activation health.

Every number is computed on the device with fused calls (`torch._foreach_norm`) and read to the host in one
transfer per logged step. A layer is a node: its parameters are the GraphModule's `node_id.*` tensors.
"""
from __future__ import annotations

from contextlib import ExitStack

import torch
from torch import nn

from .bptt import BpttCapture, recurrent_layers
from .events import ActivationStats, StepEvent

SATURATION_MARGIN = 0.01
_NOT_APPLICABLE = -1.0


def activation_stats(module: nn.Module, output: torch.Tensor) -> torch.Tensor:
    """[mean, std, dead fraction, saturated fraction] of a layer's output, -1 where a measure does not apply.

    A ReLU unit (one element of a sample's output) is dead when no sample of the batch makes it positive;
    a sigmoid or tanh output is saturated within 0.01 of its bounds."""
    y = output.detach().float()
    dead = saturated = y.new_tensor(_NOT_APPLICABLE)
    if isinstance(module, nn.ReLU):
        dead = 1.0 - (y > 0).flatten(1).any(0).float().mean()
    elif isinstance(module, nn.Sigmoid):
        saturated = ((y < SATURATION_MARGIN) | (y > 1 - SATURATION_MARGIN)).float().mean()
    elif isinstance(module, nn.Tanh):
        saturated = (y.abs() > 1 - SATURATION_MARGIN).float().mean()
    std = y.std() if y.numel() > 1 else y.new_zeros(())
    return torch.stack([y.mean(), std, dead, saturated])


def to_activation(values: list[float]) -> ActivationStats:
    mean, std, dead, saturated = values
    return ActivationStats(
        mean=mean, std=std, dead_fraction=None if dead < 0 else dead, saturated_fraction=None if saturated < 0 else saturated,
    )


class Capture:
    """Hooks for one monitored forward pass: activation stats of chosen layers and, optionally, the BPTT profile."""

    def __init__(self, layers: dict[str, nn.Module], recurrent: dict[str, nn.Module] | None):
        self.layers = layers
        self.bptt = BpttCapture(recurrent) if recurrent else None
        self.activations: dict[str, torch.Tensor] = {}
        self._stack = ExitStack()

    def _hook(self, name: str):
        def hook(module, _inputs, output):
            value = output[0] if isinstance(output, tuple) else output
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                self.activations[name] = activation_stats(module, value)
        return hook

    def __enter__(self) -> "Capture":
        for name, module in self.layers.items():
            self._stack.callback(module.register_forward_hook(self._hook(name)).remove)
        if self.bptt:
            self._stack.enter_context(self.bptt)
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()


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
        device = self.params[0].device if self.params else torch.device("cpu")
        self.node_of_param = [node for node, ps in groups.items() for _ in ps]
        self._owner = torch.tensor([i for i, ps in enumerate(groups.values()) for _ in ps], device=device, dtype=torch.long)
        self.recurrent = recurrent_layers(model)
        self.health_layers = {n: m for n, m in model.named_children() if isinstance(m, self.HEALTH_TYPES)}

    def grads(self) -> list[torch.Tensor]:
        return [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]

    def capture(self, bptt: bool, activations: bool = True) -> Capture:
        """Context for a logged forward pass."""
        return Capture(self.health_layers if activations else {}, self.recurrent if bptt else None)

    def per_node(self, norms: list[torch.Tensor]) -> torch.Tensor:
        """Per-parameter norms combined into one L2 norm per node (on the device)."""
        squares = torch.stack(norms).float().square()
        return torch.zeros(len(self.nodes), device=squares.device).index_add_(0, self._owner, squares).sqrt()

    def weights_before(self) -> list[torch.Tensor]:
        """A copy of the weights, taken before the optimizer step of a logged step."""
        return torch._foreach_mul([p.detach() for p in self.params], 1.0)

    def step_event(self, *, step: int, epoch: int, loss: torch.Tensor, grad_norms: list[torch.Tensor],
                   total: torch.Tensor, total_clipped: torch.Tensor, clipped: torch.Tensor,
                   before: list[torch.Tensor] | None, capture: Capture | None) -> StepEvent:
        """Everything measured at a logged step, read from the device in a single transfer."""
        weights = [p.detach() for p in self.params]
        parts = [torch.stack([t.detach().float() for t in (loss, total, total_clipped, clipped)])]
        if self.nodes:
            parts.append(self.per_node(grad_norms))
            weight = self.per_node(torch._foreach_norm(weights))
            parts.append(weight)
            if before is not None:
                change = self.per_node(torch._foreach_norm(torch._foreach_sub(weights, before)))
                parts.append(change / self.per_node(torch._foreach_norm(before)).clamp_min(1e-12))
        profiles = capture.bptt.profiles() if capture and capture.bptt else {}
        activations = capture.activations if capture else {}
        parts += [p for directions in profiles.values() for p in directions] + list(activations.values())
        values = torch.cat([p.reshape(-1) for p in parts]).tolist()
        return self._event(step, epoch, values, before is not None, profiles, activations)

    def _event(self, step, epoch, values, has_update, profiles, activations) -> StepEvent:
        loss, total, total_clipped, clipped = values[:4]
        position, n = 4, len(self.nodes)

        def take(count: int) -> list[float]:
            nonlocal position
            position += count
            return values[position - count:position]

        grad = dict(zip(self.nodes, take(n))) if n else {}
        weight = dict(zip(self.nodes, take(n))) if n else {}
        update = dict(zip(self.nodes, take(n))) if n and has_update else {}
        bptt, reverse = {}, {}
        for name, directions in profiles.items():
            bptt[name] = take(len(directions[0]))
            if len(directions) == 2:
                reverse[name] = take(len(directions[1]))
        health = {name: to_activation(take(4)) for name in activations}
        return StepEvent(
            step=step, epoch=epoch, loss=loss, grad_norm=grad, weight_norm=weight, update_ratio=update,
            grad_norm_total=total, grad_norm_clipped=total_clipped,
            clipped=bool(clipped),
            bptt=bptt or None, bptt_reverse=reverse or None, activations=health or None,
        )

    def first_nonfinite(self, grad_norms: list[torch.Tensor]) -> str | None:
        """The layer nearest the output whose gradient is not finite: the first such layer in backward order."""
        finite = torch.isfinite(self.per_node(grad_norms)).tolist() if self.nodes else []
        return next((node for node, ok in zip(reversed(self.nodes), reversed(finite)) if not ok), None)
