"""The gradient monitor: per-layer gradient, weight and update norms of every monitored step, the BPTT profile
and activation health, turned into step events in batches.

A layer is a node, named by its id or, inside block instances, its dotted path (`stage2.1.conv1`): its
parameters are the GraphModule's `<path>.*` tensors, one slice of the flat vectors (flat.py). Each monitored step costs a few microseconds: its numbers go into one row of the recorder
(recorder.py) on the device, and nothing becomes Python objects until the rows are read, every
`FLUSH_ROWS` steps or `FLUSH_SECONDS` of wall time, whichever comes first, as one StepRows batch whose
rows are the steps' events: every step keeps its own. The weight norm of a step is that of the weights the step
started from (those that made its loss); the update ratio is ||w_after - w_before|| / ||w_before||.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..compiler import layers
from .bptt import recurrent_layers
from ..config import GradClip
from .events import AttentionMap, StepRows
from .flat import FlatParameters
from .health import Capture, Reading
from .positions import sequence_layers
from .recorder import DeviceRecorder, HostRecorder

FLUSH_ROWS = 256
FLUSH_SECONDS = 0.1


@dataclass
class Captured:
    """What a profiled step measured, still on the device until its batch is read: activation scalars, then each
    BPTT profile, each gradient-by-position profile, then each attention layer's maps and entropies."""

    readings: dict[str, Reading]
    tensors: list[torch.Tensor]
    profiles: dict[str, list[int]]  # recurrent layer -> length of each direction's profile
    positions: dict[str, int]  # sequence layer -> length of its profile
    attention: dict[str, tuple]  # attention layer -> shape of its maps, number of heads, tokens of its positions

    @classmethod
    def of(cls, capture: Capture | None) -> "Captured | None":
        if capture is None:
            return None
        profiles = capture.bptt.profiles() if capture.bptt else {}
        positions = capture.positions.profiles() if capture.positions else {}
        tensors = [torch.stack(capture.scalars).float()] if capture.scalars else []
        tensors += [p for directions in profiles.values() for p in directions]
        tensors += list(positions.values())
        tensors += [t for maps in capture.attention.values() for t in (maps.weights, maps.entropy)]
        return cls(capture.readings, tensors, {name: [len(p) for p in ps] for name, ps in profiles.items()},
                   {name: len(p) for name, p in positions.items()},
                   {name: (maps.weights.shape, len(maps.entropy), maps.queries, maps.keys)
                    for name, maps in capture.attention.items()})

    def fields(self, values: list[float]) -> dict:
        """The step event's activations, bptt, bptt_reverse, grad_by_position and attention from these values."""
        scalars = sum(reading.size for reading in self.readings.values())
        activations, position = {}, 0
        for name, reading in self.readings.items():
            activations[name] = reading.stats(values[position:position + reading.size])
            position += reading.size
        bptt, reverse, by_position, attention = {}, {}, {}, {}
        position = scalars
        for name, lengths in self.profiles.items():
            for target, length in zip((bptt, reverse), lengths):
                target[name] = values[position:position + length]
                position += length
        for name, length in self.positions.items():
            by_position[name] = values[position:position + length]
            position += length
        for name, (shape, heads, queries, keys) in self.attention.items():
            size = shape.numel()
            maps = np.round(values[position:position + size], 4).reshape(shape).tolist()
            attention[name] = AttentionMap(weights=maps, entropy=values[position + size:position + size + heads],
                                           queries=queries, keys=keys)
            position += size + heads
        return {"activations": activations or None, "bptt": bptt or None, "bptt_reverse": reverse or None,
                "grad_by_position": by_position or None, "attention": attention or None}


class GradientMonitor:
    """Knows the model's weighted layers, records monitored steps and turns them into StepEvents."""

    HEALTH_TYPES = (nn.ReLU, nn.Sigmoid, nn.Tanh)

    def __init__(self, model: nn.Module, clip: GradClip | None = None, sequence=()):
        self.flat = FlatParameters(model)
        self.nodes, self.params, self.node_of_param = self.flat.nodes, self.flat.params, self.flat.node_of_param
        self.recorder = (HostRecorder(self.flat, clip, FLUSH_ROWS) if self.flat.grads.device.type == "cpu"
                         else DeviceRecorder(self.flat, clip, FLUSH_ROWS))
        self.recurrent = recurrent_layers(model)
        self.sequence = sequence_layers(model, sequence)
        self.health_layers = {n: m for n, m in layers(model) if isinstance(m, self.HEALTH_TYPES)}
        self._steps: list[tuple[int, int, bool, Captured | None]] = []
        self._read_at = time.perf_counter()

    def capture(self) -> Capture:
        """Context for a profiled forward pass: activation health, the BPTT profile and the gradient by position."""
        return Capture(self.health_layers, self.recurrent, self.sequence)

    def zero_grad(self) -> None:
        self.flat.zero_grad()

    def check(self, loss: torch.Tensor, record: bool) -> bool:
        """After backward: whether the step may be applied (loss and gradients finite); clips the gradients and,
        when `record`, notes the step's gradient norms and the weights it starts from."""
        return self.recorder.check(loss, record)

    def record(self, step: int, epoch: int, capture: Capture | None = None) -> None:
        """After the optimizer step of a step `check` recorded: its row is complete."""
        self.recorder.record()
        self._steps.append((step, epoch, True, capture and Captured.of(capture)))

    def record_unapplied(self, step: int, epoch: int, loss: torch.Tensor, capture: Capture | None = None) -> None:
        """A row for a step whose update is not applied (a non-finite step, or a probe)."""
        self.recorder.record_unapplied(loss)
        self._steps.append((step, epoch, False, Captured.of(capture)))

    def due(self) -> bool:
        """Whether the rows should be read now: FLUSH_ROWS of them, or FLUSH_SECONDS since the last read."""
        return len(self._steps) >= FLUSH_ROWS or time.perf_counter() - self._read_at >= FLUSH_SECONDS

    def read(self) -> StepRows | None:
        """Every row recorded since the last read, as one batch in step order (one device read), or None."""
        steps, self._steps = self._steps, []
        self._read_at = time.perf_counter()
        if not steps:
            return None
        table, n = self.recorder.read(), len(self.nodes)
        with np.errstate(all="ignore"):  # non-finite steps carry inf and nan
            table[:, 3 + 2 * n:] /= np.maximum(table[:, 3 + n:3 + 2 * n], 1e-12)
        captured = {index: c for index, (*_, c) in enumerate(steps) if c}
        extras = dict(zip(captured, _read(list(captured.values()))))
        return StepRows(self.nodes, [s[0] for s in steps], [s[1] for s in steps], [s[2] for s in steps], table, extras)


def _read(captures: list[Captured]):
    """Each capture's event fields, from one read of all their tensors."""
    tensors = [t.reshape(-1) for c in captures for t in c.tensors]
    values = torch.cat(tensors).tolist() if tensors else []
    position = 0
    for capture in captures:
        size = sum(t.numel() for t in capture.tensors)
        yield capture.fields(values[position:position + size])
        position += size
