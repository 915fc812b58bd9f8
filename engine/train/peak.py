"""Measured peak memory of the training steps, to set beside the cost model's estimate.

On CUDA it is torch's allocator (`max_memory_allocated`); on a CPU the process's peak resident set (Linux's VmHWM,
reset when the steps begin, after glibc returns freed heap pages, which the steps could otherwise reuse unseen;
elsewhere `getrusage`'s lifetime maximum, which a bigger earlier peak can hide). The
growth over the memory held as the first step begins, plus the weights (and gradients) held then, is what the estimate
counts: weights, gradients, optimizer state and the tensors kept for backward (and, measured, whatever else the
steps allocate).
"""
from __future__ import annotations

import ctypes
import resource
import sys
from pathlib import Path

import torch

from .events import MeasuredMemory

_STATUS, _CLEAR_REFS = Path("/proc/self/status"), Path("/proc/self/clear_refs")


class PeakMemory:
    """`start()` as the steps begin, `stop()` when they end (the first call of each counts); then `result`."""

    def __init__(self, model: torch.nn.Module, device: torch.device):
        self.device, self.result = device, None
        held = [*model.parameters(), *model.buffers(), *(p.grad for p in model.parameters() if p.grad is not None)]
        self._weights = sum(t.nbytes for t in held)  # gradients too: the flat ones are allocated up front
        self._baseline: int | None = None

    def start(self) -> None:
        if self._baseline is not None:
            return
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            self._baseline = torch.cuda.memory_allocated(self.device)
        else:
            self._baseline = _reset_rss_peak()

    def stop(self) -> None:
        if self._baseline is None or self.result is not None:
            return
        if self.device.type == "cuda":
            peak, method = torch.cuda.max_memory_allocated(self.device), "torch.cuda.max_memory_allocated"
        else:
            peak, method = _rss_peak(), "peak resident set size"
        growth = max(0, peak - self._baseline)
        self.result = MeasuredMemory(device=str(self.device), method=method, growth_bytes=growth,
                                     training_bytes=self._weights + growth)


def _reset_rss_peak() -> int:
    """Reset the process's peak resident set to its current size, where Linux allows; the size to compare with."""
    _release_free_heap()
    try:
        _CLEAR_REFS.write_text("5")
        return _status_bytes("VmHWM")
    except OSError:
        return _rss_peak()


def _release_free_heap() -> None:
    """Give freed heap pages back to the system (glibc's malloc_trim): resident but free, they would hide growth."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _rss_peak() -> int:
    try:
        return _status_bytes("VmHWM")
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB elsewhere


def _status_bytes(field: str) -> int:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise OSError(f"no {field} in {_STATUS}")
