"""Gradient by position: ||dL/dx_t|| at the input of every layer that mixes a sequence's positions.

For a recurrent layer the gradient that reaches an early x_t has crossed every step after it; for attention it
takes one hop from wherever it is read. So the same number, taken at the input of an LSTM and of an attention
layer on the same task, shows why attention fixed long-range gradients. On a profiled step a forward pre-hook
marks the layer's input (a leaf copy of data that needs no gradient otherwise) and a tensor hook turns its
gradient into T norms on the device, during the backward pass; the monitor reads them with the step's row.
The norm is over the whole batch and the features: ||dL/dx_t|| with x_t of shape (N, F), L the batch's mean loss.
"""
from __future__ import annotations

from contextlib import ExitStack

import torch
from torch import nn

from ..document import Architecture, is_instance
from ..validate import check


def position_norms(grad: torch.Tensor) -> torch.Tensor:
    """||grad[:, t]|| for every position t of a batch-first (N, T, ...) gradient."""
    return torch.linalg.vector_norm(grad.detach(), dim=(0, *range(2, grad.dim())))


class PositionCapture:
    """While active, the given layers' sequence inputs (`in`, or the `key_value` a cross-attention reads) keep hooks
    that measure their gradient per position; `profiles()` gives the norms after the backward pass."""

    def __init__(self, layers: dict[str, nn.Module]):
        self.layers = layers
        self.norms: dict[str, torch.Tensor] = {}
        self._stack = ExitStack()

    def _pre_hook(self, name: str):
        def hook(module, args, kwargs):
            if not torch.is_grad_enabled():
                return None
            x = args[0] if args else kwargs.get("key_value")
            if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dim() < 3:
                return None
            if not x.requires_grad:   # data straight from the batch: a leaf that keeps its gradient
                x = x.detach().requires_grad_()
                args, kwargs = ((x, *args[1:]), kwargs) if args else (args, {**kwargs, "key_value": x})
            x.register_hook(lambda grad: self.norms.__setitem__(name, position_norms(grad)))
            return args, kwargs
        return hook

    def __enter__(self) -> "PositionCapture":
        self.norms.clear()
        for name, module in self.layers.items():
            handle = module.register_forward_pre_hook(self._pre_hook(name), with_kwargs=True)
            self._stack.callback(handle.remove)
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def profiles(self) -> dict[str, torch.Tensor]:
        """Per layer in graph order, its T norms (still on the device), for the layers the backward pass reached."""
        return {name: self.norms[name] for name in self.layers if name in self.norms}


def layer_paths(arch: Architecture, flag: str) -> list[str]:
    """The dotted paths of the layers whose spec sets `flag` (`sequence`, `attention`), inside block instances too."""
    return [path for path, node, _ in check(arch)[1].paths() if not is_instance(node) and getattr(node.spec, flag)]


def sequence_layers(model: nn.Module, paths) -> dict[str, nn.Module]:
    """The model's layers at the given dotted paths (those whose layer type mixes positions), by path."""
    return {path: model.get_submodule(path) for path in paths}
