"""Plain-text summaries of a run: progress line, status line and the metrics table."""
from __future__ import annotations

import math

from layerloom.designer import theme
from layerloom.engine.train.events import STATUS_TEXT

from .run_store import RunSeries

METRIC_LABELS = (
    ("loss", "batch loss"), ("train_loss", "train loss"), ("val_loss", "val loss"),
    ("train_accuracy", "train accuracy"), ("val_accuracy", "val accuracy"),
)


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def progress_text(run: RunSeries | None) -> tuple[float | None, str]:
    """(done fraction, 'step 120/600 · epoch 3/10 · 0:42 left')."""
    if run is None:
        return None, "not started"
    fraction, left = run.progress()
    step = run.end.step if run.end else (run.latest.step if run.latest else 0)   # steps are logged every K
    parts = [f"step {step}/{run.total_steps}" if run.total_steps else f"step {step}"]
    epochs = (run.config or {}).get("epochs")
    if run.latest is not None and run.mode == "train":
        parts.append(f"epoch {run.latest.epoch}/{epochs}" if epochs else f"epoch {run.latest.epoch}")
    if run.running:
        parts.append(f"{duration(left)} left" if left is not None else "starting…")
    else:
        parts.append(STATUS_TEXT[run.status])
    return fraction, " · ".join(parts)


def status_text(run: RunSeries | None) -> str:
    if run is None:
        return "Train the document as drawn, or Probe it to see its gradients before training."
    where = f" on {run.device}" if run.device else ""
    size = f", {run.parameters:,} parameters" if run.parameters else ""
    if run.running:
        return f"{run.name}: running{where}{size}"
    took = f" in {duration(run.end.seconds)}" if run.end else ""
    return f"{run.name}: {STATUS_TEXT[run.status]}{took}{where}{size}"


def format_metrics(metrics: dict[str, float]) -> str:
    """The known metrics as a small two-column rich-text table."""
    rows = []
    for key, label in METRIC_LABELS:
        value = metrics.get(key)
        if value is None:
            continue
        shown = f"{value:.1%}" if "accuracy" in key and math.isfinite(value) else f"{value:.4g}"
        rows.append(f"<tr><td style='color:{theme.hex_of('text_muted')}; padding-right:12px'>{label}</td>"
                    f"<td><b>{shown}</b></td></tr>")
    return f"<table>{''.join(rows)}</table>" if rows else ""
