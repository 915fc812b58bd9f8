"""Activation health of a monitored forward pass: mean and spread of layer outputs, dead ReLUs, saturated units.

A ReLU unit (one element of a sample's output) is dead when no sample of the batch makes it positive; a
sigmoid or tanh output is saturated within 0.01 of its bounds. Each layer costs a handful of small device
ops; the numbers stay on the device until the monitor reads the whole step at once.
"""
from __future__ import annotations

import math
from contextlib import ExitStack
from dataclasses import dataclass

import torch
from torch import nn

from .bptt import BpttCapture
from .positions import PositionCapture
from .events import ActivationStats

SATURATION_MARGIN = 0.01


@dataclass(frozen=True)
class Reading:
    """How to turn a layer's device scalars [mean, L2 norm, (count)] into ActivationStats."""

    kind: str  # "dead", "saturated" or "plain"
    numel: int
    units: int  # what the count is out of

    @property
    def size(self) -> int:
        return 2 if self.kind == "plain" else 3

    def stats(self, values: list[float]) -> ActivationStats:
        mean, norm = values[:2]
        std = math.sqrt(max(norm * norm / max(self.numel, 1) - mean * mean, 0.0))
        if self.kind == "dead":
            return ActivationStats(mean=mean, std=std, dead_fraction=1.0 - values[2] / max(self.units, 1))
        if self.kind == "saturated":
            return ActivationStats(mean=mean, std=std, saturated_fraction=values[2] / max(self.units, 1))
        return ActivationStats(mean=mean, std=std)


def measure_output(module: nn.Module, output: torch.Tensor) -> tuple[Reading, list[torch.Tensor]]:
    """The device scalars of one layer's output and how to read them.

    Chosen for speed on the CPU, where comparisons and torch.std are several times slower than arithmetic:
    the spread comes from the mean and the L2 norm, and counts from ceil(clamp(x - threshold, 0))."""
    y = output.detach()
    scalars = [y.mean(), torch.linalg.vector_norm(y)]
    if isinstance(module, nn.ReLU):
        alive = y.reshape(len(y), -1).sum(0)  # ReLU outputs are >= 0: a unit is alive when its batch sum is positive
        return Reading("dead", y.numel(), alive.numel()), scalars + [alive.gt(0).sum(dtype=torch.float32)]
    if isinstance(module, nn.Sigmoid):
        beyond = (y - 0.5).abs_().sub_(0.5 - SATURATION_MARGIN)
    elif isinstance(module, nn.Tanh):
        beyond = y.abs().sub_(1 - SATURATION_MARGIN)
    else:
        return Reading("plain", y.numel(), 0), scalars
    return Reading("saturated", y.numel(), y.numel()), scalars + [beyond.clamp_(min=0).ceil_().sum(dtype=torch.float32)]


class Capture:
    """Hooks for one monitored forward pass: activation health of chosen layers and, optionally, the BPTT profile
    and the gradient by position of sequence layers; `attention` holds the attention probe's maps when measured."""

    def __init__(self, layers: dict[str, nn.Module], recurrent: dict[str, nn.Module] | None,
                 sequence: dict[str, nn.Module] | None = None):
        self.layers = layers
        self.bptt = BpttCapture(recurrent) if recurrent else None
        self.positions = PositionCapture(sequence) if sequence else None
        self.attention: dict = {}   # attention layer -> attention.Measured, when the step measured them
        self.readings: dict[str, Reading] = {}
        self.scalars: list[torch.Tensor] = []
        self._stack = ExitStack()

    def _hook(self, name: str):
        def hook(module, _inputs, output):
            value = output[0] if isinstance(output, tuple) else output
            usable = isinstance(value, torch.Tensor) and value.is_floating_point() and value.dim() > 0
            if usable and name not in self.readings:
                self.readings[name], scalars = measure_output(module, value)
                self.scalars += scalars
        return hook

    def __enter__(self) -> "Capture":
        for name, module in self.layers.items():
            self._stack.callback(module.register_forward_hook(self._hook(name)).remove)
        for part in (self.bptt, self.positions):
            if part:
                self._stack.enter_context(part)
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()
