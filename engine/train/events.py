"""The training event stream: one pydantic model per event kind, and a sink writing them as JSON Lines.

The designer consumes exactly these objects; `parse_event(line)` validates one line of a stream. In the
process, monitored steps travel in batches (`StepRows`, one per read of the monitor's rows), whose rows are
StepEvents built only for those who ask: the stream writes one StepEvent line per row.
"""
from __future__ import annotations

import json
import math
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable, ClassVar, Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from .. import fileio

DiagnosisKind = Literal["vanishing", "exploding", "dead_relu", "saturation", "collapsed_attention", "uniform_attention"]
EndStatus = Literal["completed", "max_steps", "cancelled", "probed"]
# How a run stands, the one vocabulary of the trainer, the run folders and the dashboard: running, how an end
# event says it ended, failed (an error event, or a process that died) or unfinished (a log that stops short).
RunStatus = Literal["running", "completed", "max_steps", "cancelled", "probed", "failed", "unfinished"]
STATUS_TEXT: dict[str, str] = {
    "running": "running", "completed": "finished", "max_steps": "step limit reached", "cancelled": "stopped",
    "probed": "probed at initialization", "failed": "failed", "unfinished": "unfinished",
}


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="constants")


class ParameterCounts(_Event):
    """Parameter counts of the model, in total and per layer."""

    total: int
    trainable: int
    per_node: dict[str, int] = Field(description="Parameters of each layer that has weights.")


class CostEstimate(_Event):
    """The cost model's figures for this run (engine.costs): MACs per sample and training memory at the batch
    size each process takes."""

    total_macs: int
    batch_size: int
    param_bytes: int
    grad_bytes: int
    optimizer_bytes: int
    activation_bytes: int
    training_bytes: int


class MeasuredMemory(_Event):
    """Memory the training steps took, measured (engine/train/peak.py): the growth over what was held as the
    first step began, and that growth plus the weights, to compare with the estimate's training_bytes."""

    device: str
    method: str
    growth_bytes: int
    training_bytes: int


class StartEvent(_Event):
    """The run (or probe) begins: its settings, device and the layers it reports on."""

    event: Literal["start"] = "start"
    mode: Literal["train", "probe"] = "train"
    config: dict[str, Any] | None = Field(
        None, description="The training section in effect (absent for a probe without one).",
    )
    device: str
    parameters: ParameterCounts
    monitored: list[str] = Field(description="Layers with weights, in graph order: the keys of grad_norm.")
    recurrent: list[str] = Field(default_factory=list, description="Recurrent layers: the keys of bptt.")
    sequence: list[str] = Field(default_factory=list, description=(
        "Layers that mix the positions of a sequence (recurrent, attention): the keys of grad_by_position."))
    attention: list[str] = Field(default_factory=list, description="Attention layers: the keys of attention.")
    steps_per_epoch: int = 0
    total_steps: int = 0
    first_step: int = Field(0, description="Steps already done (above 0 when resuming).")
    run_dir: str | None = None
    estimate: CostEstimate | None = Field(None, description="What the cost model expects this run to need.")


class ActivationStats(_Event):
    """Health of one layer's output over the batch."""

    mean: float
    std: float
    dead_fraction: float | None = Field(None, description="ReLU units not positive for any sample of the batch.")
    saturated_fraction: float | None = Field(None, description="sigmoid/tanh outputs within 0.01 of their bounds.")


class AttentionMap(_Event):
    """What one attention layer does to the run's fixed probe samples (the first validation samples, in eval mode)."""

    weights: list[list[list[float]]] = Field(
        description="Each head's attention weights (heads, T_q, T_k) for the first probe sample; rows sum to 1.")
    entropy: list[float] = Field(description=(
        "Each head's attention entropy as a share of its maximum (log of the keys a query may see), averaged over "
        "the queries of every probe sample: 0 when each query looks at one key, 1 when it looks at all alike."))
    queries: list[str] | None = Field(None, description="The first probe sample's tokens at the query positions, "
                                                         "when they come from token ids of the dataset's vocabulary.")
    keys: list[str] | None = Field(None, description="The same at the key positions.")


class StepEvent(_Event):
    """A logged optimizer step: loss and the gradient monitor's numbers."""

    event: Literal["step"] = "step"
    step: int = Field(description="Optimizer steps done, counting this one (1-based); 0 for a probe.")
    epoch: int = Field(description="1-based epoch the step belongs to.")
    loss: float = Field(description="Loss of this step's batch.")
    grad_norm: dict[str, float] = Field(description="L2 norm of each layer's gradient (all its parameters together); "
                                                    "layers inside block instances by dotted path, 'stage2.1.conv1'.")
    instance_grad_norm: dict[str, float] | None = Field(
        None, description="Per block instance and per copy of a repeated one ('stage2', 'stage2.1'): the L2 norm of "
                          "the gradients of every layer inside it.",
    )
    weight_norm: dict[str, float] = Field(description="Norm of each layer's weights as the step started.")
    update_ratio: dict[str, float] = Field(description="||w_after - w_before|| / ||w_before|| of this step.")
    grad_norm_total: float = Field(description="Norm of the whole gradient before clipping.")
    grad_norm_clipped: float = Field(description="Norm of the whole gradient after clipping (equal when none).")
    clipped: bool
    bptt: dict[str, list[float]] | None = Field(
        None, description="On profiled steps: per recurrent layer, ||dL/dh_t|| of its top layer for t = 0..T-1 "
                          "(forward direction), the norm over the whole batch of the gradient of the mean loss.",
    )
    bptt_reverse: dict[str, list[float]] | None = Field(
        None, description="The same for the reverse direction of bidirectional layers, also indexed by input time t.",
    )
    activations: dict[str, ActivationStats] | None = Field(
        None, description="On profiled steps: output health of ReLU, sigmoid and tanh layers (a probe: every layer).",
    )
    grad_by_position: dict[str, list[float]] | None = Field(
        None, description="On profiled steps: per sequence layer (recurrent, attention), ||dL/dx_t|| at its input "
                          "(a cross-attention's key_value) for t = 0..T-1, the norm over the whole batch of the "
                          "gradient of the mean loss.",
    )
    attention: dict[str, AttentionMap] | None = Field(
        None, description="On profiled steps: per attention layer, its weights and entropy on the probe samples.",
    )


class EpochEvent(_Event):
    """An epoch ended: metrics on the train and validation parts, measured in eval mode."""

    event: Literal["epoch"] = "epoch"
    epoch: int
    step: int
    metrics: dict[str, float]
    seconds: float = Field(description="Time since training started.")


class DiagnosisEvent(_Event):
    """A problem the numbers show (first seen, or back after it cleared), the layers concerned and what to change."""

    event: Literal["diagnosis"] = "diagnosis"
    kind: DiagnosisKind
    nodes: list[str]
    message: str
    remedy: str
    step: int
    key: str = Field("", description="Names the problem across events: a cleared event carries the same key.")
    remedies: list[str] = Field(default_factory=list, description="Remedy kinds (`layerloom remedy`) that test it.")

    @property
    def ident(self) -> str:
        """The key, or for a stream written before keys existed, kind and layers."""
        return self.key or f"{self.kind}:{','.join(self.nodes)}"


class ClearedEvent(_Event):
    """A diagnosed problem is gone: fresh measurements no longer show it."""

    event: Literal["cleared"] = "cleared"
    key: str
    kind: DiagnosisKind
    nodes: list[str]
    step: int


class EndEvent(_Event):
    """The run ended (completed, max_steps, cancelled) or the probe finished, with final metrics."""

    event: Literal["end"] = "end"
    status: EndStatus
    step: int
    metrics: dict[str, float]
    seconds: float
    memory: MeasuredMemory | None = Field(None, description="Peak memory of the training steps, measured.")


class ErrorEvent(_Event):
    """The run failed; the message says why, and which step and layer when known."""

    event: Literal["error"] = "error"
    message: str
    step: int | None = None
    node: str | None = Field(None, description="The layer the error points at, when there is one.")


Event = Annotated[
    Union[StartEvent, StepEvent, EpochEvent, DiagnosisEvent, ClearedEvent, EndEvent, ErrorEvent],
    Field(discriminator="event"),
]
_EVENT_ADAPTER = TypeAdapter(Event)


def parse_event(line: str | bytes) -> BaseModel:
    """Validate one JSON line of an event stream. Raises pydantic.ValidationError."""
    return _EVENT_ADAPTER.validate_json(line)


def to_json(event: BaseModel) -> str:
    """One event as a compact JSON line without its newline; unset optional fields are left out, and
    non-finite floats are written as NaN / Infinity (which Python's json and `parse_event` read back)."""
    return event.model_dump_json(exclude_none=True)


def _dumps(data: dict) -> str:
    return json.dumps(data, separators=(",", ":"))


def line_prefix(kind: str) -> bytes:
    """How every line `to_json` writes for events of this kind begins (`event` is each model's first field), so a
    reader that must keep up can sort lines before parsing them."""
    return _dumps({"event": kind})[:-1].encode()


def status_after(status: str, event: BaseModel) -> str:
    """A run's status once it has read `event`: an end event says how the run ended, an error that it failed."""
    if isinstance(event, EndEvent):
        return event.status
    return "failed" if isinstance(event, ErrorEvent) else status


_STEP_FIELDS = frozenset(StepEvent.model_fields)


def _step_event(values: dict) -> StepEvent:
    """A StepEvent from the values of every field, all Python numbers made by the monitor: what pydantic's
    model_construct does, without its per-field loop (a fifth of the time)."""
    event = object.__new__(StepEvent)
    for name, value in (("__dict__", values), ("__pydantic_fields_set__", _STEP_FIELDS),
                        ("__pydantic_extra__", None), ("__pydantic_private__", None)):
        object.__setattr__(event, name, value)
    return event


@dataclass(eq=False)
class StepRows:
    """Monitored steps read in one batch, in the process only: the numbers of their step events as rows of a
    table. A row becomes its StepEvent on demand (`events()`), so a run nobody writes down builds none."""

    event: ClassVar[str] = "steps"
    nodes: list[str]
    steps: list[int]
    epochs: list[int]
    applied: list[bool]  # False for a step that was not applied (non-finite, or a probe): no update ratio
    table: np.ndarray  # per row: loss, total gradient norm, after clipping, then per layer grad, weight, ratio
    extras: dict[int, dict]  # row -> activations, bptt, bptt_reverse, grad_by_position, attention of a profiled step

    def __len__(self) -> int:
        return len(self.steps)

    def events(self) -> list[StepEvent]:
        return [self._event(index, row) for index, row in enumerate(self.table.tolist())]

    def event_at(self, index: int) -> StepEvent:
        return self._event(index, self.table[index].tolist())

    def _event(self, index: int, row: list[float]) -> StepEvent:
        nodes, n = self.nodes, len(self.nodes)
        loss, total, clipped = row[:3]
        extra = self.extras.get(index, {})
        return _step_event({
            "event": "step", "step": self.steps[index], "epoch": self.epochs[index], "loss": loss,
            "grad_norm": dict(zip(nodes, row[3:3 + n])), "instance_grad_norm": instance_norms(nodes, row[3:3 + n]),
            "weight_norm": dict(zip(nodes, row[3 + n:3 + 2 * n])),
            "update_ratio": dict(zip(nodes, row[3 + 2 * n:])) if self.applied[index] else {},
            "grad_norm_total": total, "grad_norm_clipped": clipped, "clipped": clipped < total,
            "bptt": extra.get("bptt"), "bptt_reverse": extra.get("bptt_reverse"),
            "activations": extra.get("activations"), "grad_by_position": extra.get("grad_by_position"),
            "attention": extra.get("attention"),
        })


def instance_norms(layers: list[str], norms: list[float]) -> dict[str, float] | None:
    """Per block instance and copy, the norm of every gradient inside it, from the norms of the layers inside
    (`stage2` and `stage2.1` from `stage2.1.conv1`, ...): the root of their sum of squares."""
    squares: dict[str, float] = {}
    for layer, norm in zip(layers, norms):
        for end in (i for i, ch in enumerate(layer) if ch == "."):
            squares[layer[:end]] = squares.get(layer[:end], 0.0) + norm * norm
    return {path: math.sqrt(total) for path, total in squares.items()} or None


def block_of(path: str) -> str:
    """What a layer at `path` is charted under at the blocks level: the copy of a repeated block instance
    (`stage2.1` for `stage2.1.conv1`), the instance (`stem` for `stem.conv`), or the layer outside any block."""
    parts = path.split(".")
    return ".".join(parts[:2 if len(parts) > 2 and parts[1].isdigit() else 1])


def each_step(callback: Callable[[Any], None]) -> Callable[[Any], None]:
    """`callback` taking every event one by one, with a batch of steps (StepRows) as its StepEvents."""
    def feed(event) -> None:
        for one in event.events() if isinstance(event, StepRows) else (event,):
            callback(one)
    return feed


class EventSink:
    """Writes events as JSON Lines to a regular file (appending) or to stdout ('-'), flushed after every event.

    A write that fails raises FileError naming the file, and the sink writes nothing more."""

    def __init__(self, target: str | Path):
        self._lock = threading.Lock()
        self.path = None if str(target) == "-" else Path(target)
        self._file = fileio.open_append(self.path) if self.path else None
        self.failed = False

    def __call__(self, event: BaseModel | StepRows) -> None:
        events = event.events() if isinstance(event, StepRows) else (event,)
        line = "".join(to_json(one) + "\n" for one in events)
        with self._lock:
            if self.failed:
                return
            try:
                if self._file:
                    self._file.write(line.encode("utf-8"))
                    self._file.flush()
                else:
                    sys.stdout.write(line)
                    sys.stdout.flush()
            except OSError as error:
                self.failed = True
                raise fileio.FileError("write", self.path or "the event stream (stdout)", fileio.reason(error)) from None

    def tell(self) -> int:
        """Bytes written to the file so far (all flushed)."""
        return os.fstat(self._file.fileno()).st_size

    def close(self) -> None:
        if self._file:
            try:
                self._file.close()
            except OSError:  # what did not reach the file was reported when it was written
                pass

    def __enter__(self) -> "EventSink":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
