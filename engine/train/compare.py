"""Runs side by side: each run summed up from its event stream, a metrics table and a one-line verdict.

The designer's remedy comparison and `layerloom compare` read runs the same way: `RunSummary.feed` takes
one event at a time, so a live run and a run folder on disk give the same numbers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from .. import fileio
from ..remedies import base_name
from .events import RunStatus, parse_event, status_after
from .runfolder import EVENTS, RunFolder
from .spans import said
from .setup import TrainingError

ROWS = (  # (label, how a summary gives it)
    ("document", lambda s: s.document),
    ("status", lambda s: s.status),
    ("steps", lambda s: str(s.steps)),
    ("first/last gradient", lambda s: _number(s.grad_ratio)),
    ("max gradient norm", lambda s: _number(s.max_grad_norm)),
    ("val loss", lambda s: _number(s.metrics.get("val_loss"))),
    ("val accuracy", lambda s: _number(s.metrics.get("val_accuracy"))),
    ("train loss", lambda s: _number(s.metrics.get("train_loss"))),
    ("seconds", lambda s: _number(s.seconds)),
    ("active at the end", lambda s: "; ".join(s.active.values()) or "none"),
    ("cleared", lambda s: "; ".join(s.cleared.values()) or "none"),
)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.3g}" if value == 0 or 1e-3 <= abs(value) < 1e4 else f"{value:.1e}"


@dataclass
class RunSummary:
    """What a comparison needs of one run, fed event by event."""

    name: str
    document: str = ""
    status: RunStatus = "unfinished"
    steps: int = 0
    seconds: float | None = None
    grad_ratio: float | None = None     # first weighted layer's gradient norm over the last's, at the first logged step
    max_grad_norm: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    active: dict[str, str] = field(default_factory=dict)    # diagnosis key -> 'vanishing in linear1, linear2'
    cleared: dict[str, str] = field(default_factory=dict)

    def feed(self, event) -> None:
        kind, self.status = event.event, status_after(self.status, event)
        if kind == "step":
            norms = list(event.grad_norm.values())
            if self.grad_ratio is None and len(norms) >= 2:
                self.grad_ratio = norms[0] / norms[-1] if norms[-1] else math.inf
            total = event.grad_norm_total if math.isfinite(event.grad_norm_total) else math.inf
            self.max_grad_norm = max(self.max_grad_norm or 0.0, total)
            self.steps = event.step
        elif kind == "epoch":
            self.metrics.update(event.metrics)
            self.seconds = event.seconds
        elif kind == "diagnosis":
            self.cleared.pop(event.ident, None)
            self.active[event.ident] = f"{event.kind} in {said(event.nodes)}"
        elif kind == "cleared" and event.key in self.active:
            self.cleared[event.key] = f"{self.active.pop(event.key)} at step {event.step}"
        elif kind == "end":
            self.steps, self.seconds = event.step, event.seconds
            self.metrics.update(event.metrics)


def summarize_folder(folder: str | Path) -> RunSummary:
    """A run folder summed up; a folder that is not a run is a TrainingError naming it."""
    run = RunFolder(folder)
    if not run.path.is_dir():
        raise TrainingError(f"{run.path} is not a folder")
    if not run.events_path.is_file():
        raise TrainingError(f"{run.path} is not a run folder: {EVENTS} is missing")
    summary = RunSummary(run.path.name, run.architecture().name)
    with fileio.open_read(run.events_path) as lines:
        for line in lines:
            try:
                summary.feed(parse_event(line))
            except ValidationError:
                continue      # a line cut short by a crash, or a future event kind
    return summary


def check_comparable(summaries: list[RunSummary]) -> None:
    """Runs compare when they trained one document or its remedy variants (named '<document> + <remedy>')."""
    first = summaries[0]
    for other in summaries[1:]:
        if base_name(other.document) != base_name(first.document):
            raise TrainingError(f"{other.name} trained '{other.document}', not '{base_name(first.document)}' or one "
                                f"of its variants: compare runs of one document")


def format_table(summaries: list[RunSummary]) -> str:
    """One column per run, one row per number."""
    columns = [[label for label, _ in ROWS]] + [[value(s) for _, value in ROWS] for s in summaries]
    heads = ["", *(s.name for s in summaries)]
    widths = [max(len(text) for text in [head, *column]) for head, column in zip(heads, columns)]
    lines = ["  ".join(head.ljust(width) for head, width in zip(heads, widths)).rstrip()]
    for row in range(len(ROWS)):
        lines.append("  ".join(column[row].ljust(width) for column, width in zip(columns, widths)).rstrip())
    return "\n".join(lines)


def verdict(before: RunSummary, after: RunSummary) -> str:
    """'first/last gradient ratio 1.3e-16 -> 2.1; val accuracy 0.1 -> 0.98': what the change did."""
    parts = [f"first/last gradient ratio {_number(before.grad_ratio)} -> {_number(after.grad_ratio)}"]
    for key, label in (("val_accuracy", "val accuracy"), ("val_loss", "val loss")):
        if key in before.metrics or key in after.metrics:
            parts.append(f"{label} {_number(before.metrics.get(key))} -> {_number(after.metrics.get(key))}")
            break
    return "; ".join(parts)
