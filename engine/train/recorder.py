"""Per-step numbers of the gradient monitor, one row per monitored step, read in batches.

A row holds the loss, the gradient's total norm before and after clipping, and each layer's gradient norm
(before clipping), weight norm (as the step started) and update norm. Both recorders also decide every
step whether the loss and gradients are finite, before the optimizer may apply them, and clip.
On a CPU a torch call costs several microseconds, more than a dot product over a whole layer, so
`HostRecorder` works on numpy views of the flat vectors (flat.py): per monitored step one dot product per
layer slice, one copy and one subtraction, and the row is a tuple of floats. On a GPU the numbers stay on
the device: `DeviceRecorder` takes every norm in one fused multi-tensor kernel and stacks the row into a
preallocated buffer that is read to the host once per batch.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..config import GradClip
from .flat import FlatParameters
from .gradients import Clipper

NAN = float("nan")


def quiet() -> np.errstate:
    """numpy's error state for recording: squares that overflow float32 read as inf, NaN gradients as NaN, both
    answers rather than warnings. Held by the caller around a whole run (entering it costs a few dot products)."""
    return np.errstate(over="ignore", invalid="ignore")


def _bounds(sizes: list[int]) -> list[tuple[int, int]]:
    ends = np.cumsum(sizes, dtype=np.int64).tolist()
    return list(zip([0, *ends[:-1]], ends))


class HostRecorder:
    """Rows of squared norms from numpy dot products over a CPU model's flat gradients and weights, each
    written straight into this step's row. One more vector holds the weights a step starts from and, after
    the step, its update (subtracted in place)."""

    def __init__(self, flat: FlatParameters, clip: GradClip | None, capacity: int):
        self.clip = clip
        self._grads, self._weights = flat.grads.numpy(), flat.weights.numpy()
        self._before = np.empty_like(self._weights)
        layers = len(flat.sizes)
        self._rows = np.empty((capacity, 3 * layers), np.float32)
        self._row = np.zeros(3 * layers, np.float32)  # the step being recorded: grad, weight, update sums
        cells = [self._row[i:i + 1].reshape(()) for i in range(3 * layers)]  # where each dot product goes
        bounds = _bounds(flat.sizes)
        self._dots = [[(vector[a:b], cell) for (a, b), cell in zip(bounds, cells[part * layers:])]
                      for part, vector in enumerate((self._grads, self._weights, self._before))]
        self._grad_sums = self._row[:layers]
        self._heads: list[tuple[float, float, float]] = []  # loss, total and clipped total of each row

    def check(self, loss: torch.Tensor, record: bool) -> bool:
        """Before the optimizer step: False if the loss or a gradient is not finite; else clip and, on a
        monitored step, note each layer's gradient and weights and keep the weights the step starts from."""
        value = loss.item()
        if record:
            for vector, cell in self._dots[0]:
                vector.dot(vector, out=cell)
            total = sum(self._grad_sums.tolist())
        else:
            total = float(self._grads.dot(self._grads))
        if not math.isfinite(value + total):  # a gradient whose norm overflows float32 counts as non-finite
            return False
        clipped = self._clip(total, record)
        if record:
            for vector, cell in self._dots[1]:
                vector.dot(vector, out=cell)
            np.copyto(self._before, self._weights)
            self._heads.append((value, total, clipped))
        return True

    def _clip(self, total: float, record: bool) -> float:
        """Clip in place as torch's clip_grad_norm_ / clip_grad_value_ do; the squared norm after clipping."""
        if self.clip is None:
            return total
        if self.clip.max_norm is not None:
            coef = self.clip.max_norm / (math.sqrt(total) + 1e-6)
            if coef >= 1.0:
                return total
            self._grads *= np.float32(coef)
            return total * coef * coef
        np.clip(self._grads, -self.clip.value, self.clip.value, out=self._grads)
        return sum(float(g.dot(g)) for g, _ in self._dots[0]) if record else total

    def record(self) -> None:
        """After the optimizer step of a monitored step: each layer's update norm completes the row."""
        np.subtract(self._weights, self._before, out=self._before)
        for vector, cell in self._dots[2]:
            vector.dot(vector, out=cell)
        self._rows[len(self._heads) - 1] = self._row

    def record_unapplied(self, loss: torch.Tensor) -> None:
        """A row for a step that was not applied (non-finite, or a probe): no update."""
        for vector, cell in self._dots[0] + self._dots[1]:
            vector.dot(vector, out=cell)
        total = sum(self._grad_sums.tolist())
        self._heads.append((loss.item(), total, total))
        self._rows[len(self._heads) - 1] = self._row
        self._rows[len(self._heads) - 1, 2 * len(self._dots[0]):] = NAN

    def __len__(self) -> int:
        return len(self._heads)

    def read(self) -> np.ndarray:
        """The rows so far as norms (loss, total, clipped total, then per layer: gradient, weight, update)."""
        table = np.concatenate([self._heads, self._rows[:len(self._heads)]], axis=1, dtype=np.float64)
        self._heads = []
        table[:, 1:] = np.sqrt(table[:, 1:])
        return table


class DeviceRecorder:
    """Rows of per-parameter norms in a buffer on the device, from fused multi-tensor kernels."""

    def __init__(self, flat: FlatParameters, clip: GradClip | None, capacity: int):
        self.clipper = Clipper(clip)
        self._weights = [p.detach() for p in flat.params]
        self._grads = [p.grad for p in flat.params]
        self._flat_grads = flat.grads
        self._before = [w.clone() for w in self._weights]
        count = len(self._weights)
        self._rows = flat.grads.new_empty(capacity, 3 + 3 * count)
        per_layer = [flat.node_of_param.count(node) for node in flat.nodes]
        self._starts = np.cumsum([0, *per_layer[:-1]])  # each layer's first parameter: the rows combine them
        self._nan = flat.grads.new_full((), NAN)
        self._pending: list[torch.Tensor] = []
        self._count = 0
        self.check_finite = True  # bench/gpu_check.py turns it off to measure what the per-step read costs

    def check(self, loss: torch.Tensor, record: bool) -> bool:
        loss = loss.detach()
        norms = torch._foreach_norm(self._grads + self._weights) if record else []
        total = (torch.linalg.vector_norm(torch.stack(norms[:len(self._grads)])) if record
                 else torch.linalg.vector_norm(self._flat_grads))
        if self.check_finite and not math.isfinite((loss + total).item()):
            return False
        self.clipper(self._grads, total)
        if record:
            clipped = self.clipper.after(self._grads, total)
            torch._foreach_copy_(self._before, self._weights)
            self._pending = [loss.float(), total, clipped, *norms]
        return True

    def record(self) -> None:
        torch._foreach_sub_(self._before, self._weights)  # minus the update: the same norm
        self._write([*self._pending, *torch._foreach_norm(self._before)])

    def record_unapplied(self, loss: torch.Tensor) -> None:
        norms = torch._foreach_norm(self._grads + self._weights)
        total = torch.linalg.vector_norm(torch.stack(norms[:len(self._grads)]))
        self._write([loss.detach().float(), total, total, *norms, *[self._nan] * len(self._weights)])

    def _write(self, values: list[torch.Tensor]) -> None:
        torch.stack(values, out=self._rows[self._count])
        self._count += 1

    def __len__(self) -> int:
        return self._count

    def read(self) -> np.ndarray:
        values = np.array(self._rows[:self._count].tolist(), dtype=np.float64).reshape(self._count, -1)
        self._count = 0
        count = len(self._weights)
        if not count:
            return values
        groups = [np.sqrt(np.add.reduceat(values[:, 3 + i * count:3 + (i + 1) * count] ** 2, self._starts, axis=1))
                  for i in range(3)]
        return np.concatenate([values[:, :3], *groups], axis=1)
