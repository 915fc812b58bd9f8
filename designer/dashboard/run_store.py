"""What the dashboard knows about one run, built from its event stream (pure Python and numpy, no Qt).

The stream reader only calls `RunSeries.feed`; the charts read the buffers on a timer. Every buffer has a
fixed size, so a run of any length costs the same memory and the same redraw time.
"""
from __future__ import annotations

import math
import operator
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from pydantic import BaseModel

from layerloom.engine.train.compare import RunSummary
from layerloom.engine.train.diagnosis import Evidence, NodeHealth, inside, node_health, worst
from layerloom.engine.train.events import (ActivationStats, ClearedEvent, DiagnosisEvent, EndEvent, EpochEvent,
                                           ErrorEvent, RunStatus, StartEvent, StepEvent, block_of,
                                           status_after)

HISTORY_ROWS = 512       # rows kept per run: about one per pixel column of a chart
BPTT_KEPT = 6
MAPS_KEPT = 32           # attention maps kept per layer, spread over the whole run
SCALARS = ("step", "epoch", "loss", "grad_total", "grad_clipped", "clipped")


class History:
    """A fixed-size table spanning the whole run: when it fills, every other row goes and only every
    second (then fourth, ...) new row is kept, so old steps thin out instead of falling off."""

    def __init__(self, width: int, capacity: int = HISTORY_ROWS):
        self._rows = np.full((capacity, width), np.nan)
        self._length = 0
        self._stride = 1
        self._seen = 0

    def append(self, row) -> None:
        index, self._seen = self._seen, self._seen + 1
        if index % self._stride:
            return
        capacity = len(self._rows)
        if self._length == capacity:
            half = capacity // 2
            self._rows[:half] = self._rows[0:capacity:2]
            self._rows[half:] = np.nan
            self._length, self._stride = half, self._stride * 2
            if index % self._stride:
                return
        self._rows[self._length] = row
        self._length += 1

    def view(self) -> np.ndarray:
        """Rows kept so far, oldest first (a view: copy it before keeping it)."""
        return self._rows[:self._length]

    def __len__(self) -> int:
        return self._length


def last_words(stderr: str, lines: int = 5) -> str:
    """What a process said before it died: a traceback's last line, or its last few lines (problem lists)."""
    said = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    if any(line.startswith("Traceback") for line in said):
        said = said[-1:]
    return "; ".join(said[-lines:])


@dataclass
class Profile:
    """One logged profile of a layer over its sequence: BPTT's ||dL/dh_t|| per time step and direction, or the
    gradient by position ||dL/dx_t|| at its input (forward only)."""

    step: int
    forward: np.ndarray
    reverse: np.ndarray | None = None


@dataclass
class AttentionMaps:
    """One attention layer at one profiled step: each head's weights (heads, T_q, T_k) on the first probe sample,
    each head's entropy as a share of its maximum, and the positions' tokens where the sequence is made of them."""

    step: int
    weights: np.ndarray
    entropy: list[float]
    queries: list[str] | None = None
    keys: list[str] | None = None


class Thinned:
    """At most `capacity` items spanning the whole run: when full, every other one goes (the first stays)."""

    def __init__(self, capacity: int = MAPS_KEPT):
        self.items: list = []
        self.capacity = capacity
        self._stride, self._seen = 1, 0

    def append(self, item) -> None:
        index, self._seen = self._seen, self._seen + 1
        if index % self._stride:
            return
        if len(self.items) == self.capacity:
            self.items, self._stride = self.items[::2], self._stride * 2
            if index % self._stride:
                return
        self.items.append(item)


@dataclass(eq=False)
class RunSeries:
    """The state of one run (live, opened from disk, or a probe), fed one event at a time."""

    name: str
    folder: Path | None = None
    document: str = ""       # the name of the document trained
    mode: str = "train"
    status: RunStatus = "running"
    config: dict | None = None
    device: str = ""
    parameters: int = 0
    layers: list[str] = field(default_factory=list)
    blocks: list[str] = field(default_factory=list)     # the blocks level (block copies, then layers outside), if any
    recurrent: list[str] = field(default_factory=list)
    sequence: list[str] = field(default_factory=list)
    attention_layers: list[str] = field(default_factory=list)
    steps_per_epoch: int = 0
    total_steps: int = 0
    first_step: int = 0
    history: History | None = None
    latest: StepEvent | None = None
    steps_seen: int = 0
    steps_clipped: int = 0
    epoch_steps: list[int] = field(default_factory=list)
    epoch_metrics: dict[str, list[float]] = field(default_factory=dict)
    bptt: dict[str, deque] = field(default_factory=dict)
    positions: dict[str, deque] = field(default_factory=dict)      # gradient by position, like bptt
    attention: dict[str, Thinned] = field(default_factory=dict)
    activations: dict[str, ActivationStats] = field(default_factory=dict)
    evidence: Evidence = field(default_factory=Evidence)
    diagnoses: dict[str, DiagnosisEvent] = field(default_factory=dict)     # active, oldest first
    cleared: dict[str, tuple[DiagnosisEvent, ClearedEvent]] = field(default_factory=dict)
    end: EndEvent | None = None
    error: ErrorEvent | None = None
    stderr: str = ""
    started: float = field(default_factory=time.monotonic)
    version: int = 0
    summary: RunSummary = None
    _getter: Callable = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.summary = RunSummary(self.name, self.document)

    # feeding -----------------------------------------------------------------
    def feed(self, event: BaseModel) -> None:
        """Take one parsed event of the stream."""
        handler = getattr(self, f"_on_{event.event}", None)
        if handler is not None:
            handler(event)
            self.summary.feed(event)
            self.version += 1

    def _on_start(self, event: StartEvent) -> None:
        self.mode, self.config, self.device = event.mode, event.config, event.device
        self.parameters = event.parameters.total
        self.recurrent, self.sequence = list(event.recurrent), list(event.sequence)
        self.attention_layers = list(event.attention)
        self.steps_per_epoch, self.total_steps, self.first_step = event.steps_per_epoch, event.total_steps, event.first_step
        self.started = time.monotonic()
        self._set_layers(event.monitored)

    def _set_layers(self, layers) -> None:
        self.layers = list(layers)
        blocks = list(dict.fromkeys(map(block_of, self.layers)))
        self.blocks = blocks if blocks != self.layers else []
        self.history = History(len(SCALARS) + 3 * len(self.layers) + len(self.blocks))
        self._getter = operator.itemgetter(*self.layers) if self.layers else (lambda block: ())

    def _on_step(self, event: StepEvent) -> None:
        if self.history is None:
            self._set_layers(event.grad_norm)
        self.latest = event
        self.evidence.update(event)
        self.steps_seen += 1
        self.steps_clipped += bool(event.clipped)
        row = [event.step, event.epoch, event.loss, event.grad_norm_total, event.grad_norm_clipped, event.clipped]
        for block in (event.grad_norm, event.weight_norm, event.update_ratio):
            try:
                values = self._getter(block)
                row.extend(values if len(self.layers) != 1 else (values,))
            except KeyError:
                row.extend([block.get(node, math.nan) for node in self.layers])
        if self.blocks:      # the monitor's norm of every gradient inside each block copy, a layer's outside
            norms = {**event.grad_norm, **(event.instance_grad_norm or {})}
            row.extend(norms.get(name, math.nan) for name in self.blocks)
        self.history.append(row)
        if event.activations:
            self.activations = event.activations
        for node, values in (event.bptt or {}).items():
            reverse = (event.bptt_reverse or {}).get(node)
            profile = Profile(event.step, np.asarray(values, float), None if reverse is None else np.asarray(reverse, float))
            self.bptt.setdefault(node, deque(maxlen=BPTT_KEPT)).append(profile)
        for node, values in (event.grad_by_position or {}).items():
            self.positions.setdefault(node, deque(maxlen=BPTT_KEPT)).append(Profile(event.step, np.asarray(values, float)))
        for node, maps in (event.attention or {}).items():
            kept = AttentionMaps(event.step, np.asarray(maps.weights, float), list(maps.entropy), maps.queries, maps.keys)
            self.attention.setdefault(node, Thinned()).append(kept)

    def _on_epoch(self, event: EpochEvent) -> None:
        count = len(self.epoch_steps)
        self.epoch_steps.append(event.step)
        for name, value in event.metrics.items():
            self.epoch_metrics.setdefault(name, [math.nan] * count).append(value)
        for values in self.epoch_metrics.values():
            values.extend([math.nan] * (count + 1 - len(values)))

    def _on_diagnosis(self, event: DiagnosisEvent) -> None:
        self.cleared.pop(event.ident, None)
        self.diagnoses.pop(event.ident, None)
        self.diagnoses[event.ident] = event

    def _on_cleared(self, event: ClearedEvent) -> None:
        found = self.diagnoses.pop(event.key, None)
        if found is not None:
            self.cleared[event.key] = (found, event)

    def _on_end(self, event: EndEvent) -> None:
        self.end, self.status = event, status_after(self.status, event)

    def _on_error(self, event: ErrorEvent) -> None:
        self.error, self.status = event, status_after(self.status, event)

    def finish(self, exit_code: int, stderr: str = "", stopped: bool = False) -> None:
        """The process is gone: settle the status when the stream did not say how it ended."""
        self.stderr = stderr
        if self.status == "running":
            self.status = "cancelled" if stopped else ("completed" if exit_code == 0 else "failed")
            if self.status == "failed" and self.error is None:
                self.error = ErrorEvent(message=last_words(stderr) or f"the process exited with code {exit_code}")
        self.version += 1

    # reading -----------------------------------------------------------------
    def health(self) -> dict[str, NodeHealth]:
        """Each measured node's health now (the engine's rules), the failed run's layer marked non-finite."""
        health = node_health(self.evidence)
        if self.error is not None and self.error.node:
            known = health.get(self.error.node)
            health[self.error.node] = NodeHealth("nonfinite", known.value if known else None, self.error.message)
        return health

    def health_at(self, level: str) -> dict[str, NodeHealth]:
        """`health()` by the names of `level`: at 'blocks', each block copy has the worst health inside it."""
        health = self.health()
        if self.names(level) is self.layers:
            return health
        found = {name: worst(inside(health, name)) for name in self.blocks if name not in health}
        return {**health, **{name: held[1] for name, held in found.items() if held is not None}}

    def names(self, level: str = "layers") -> list[str]:
        """What a chart at `level` ('layers' or 'blocks') has a line for: the layers when the run has no blocks."""
        return self.blocks if level == "blocks" and self.blocks else self.layers

    def column(self, name: str) -> np.ndarray:
        """One scalar column of the history (see SCALARS)."""
        if self.history is None:
            return np.empty(0)
        return self.history.view()[:, SCALARS.index(name)]

    def block(self, name: str) -> np.ndarray:
        """Per-layer values over the kept steps, shape (rows, layers): grad, weight or ratio."""
        if self.history is None:
            return np.empty((0, 0))
        start = len(SCALARS) + ("grad", "weight", "ratio").index(name) * len(self.layers)
        return self.history.view()[:, start:start + len(self.layers)]

    def grads(self, level: str = "layers") -> np.ndarray:
        """Gradient norms over the kept steps, shape (rows, names(level))."""
        if self.names(level) is self.layers:
            return self.block("grad")
        return self.history.view()[:, -len(self.blocks):]

    def latest_grads(self, level: str = "layers") -> np.ndarray:
        """The gradient norm of each of names(level) at the latest step, input side first."""
        event = self.latest
        grads = {**event.grad_norm, **(event.instance_grad_norm or {})} if event else {}
        return np.array([grads.get(name, math.nan) for name in self.names(level)], float)

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def clipped_share(self) -> float:
        return self.steps_clipped / self.steps_seen if self.steps_seen else 0.0

    @property
    def max_norm(self) -> float | None:
        clip = (self.config or {}).get("grad_clip") or {}
        return clip.get("max_norm")

    def progress(self) -> tuple[float | None, float | None]:
        """Done fraction and seconds left, when the run announced its length."""
        step = self.latest.step if self.latest else self.first_step
        span = self.total_steps - self.first_step
        if span <= 0:
            return (1.0 if self.end else None), None
        done = min(max((step - self.first_step) / span, 0.0), 1.0)
        if not self.running or done <= 0:
            return done, (0.0 if not self.running else None)
        elapsed = time.monotonic() - self.started
        return done, elapsed * (1 - done) / done

    def current_metrics(self) -> dict[str, float]:
        """The latest number of every metric: step loss, then the latest epoch's, then the final ones."""
        metrics = {}
        if self.latest is not None:
            metrics["loss"] = self.latest.loss
        for name, values in self.epoch_metrics.items():
            if values and math.isfinite(values[-1]):
                metrics[name] = values[-1]
        if self.end is not None:
            metrics.update(self.end.metrics)
        return metrics
