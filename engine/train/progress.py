"""A one-line terminal progress bar fed by training events (written to stderr, only on a terminal)."""
from __future__ import annotations

import shutil
from typing import TextIO

from .events import EndEvent, EpochEvent, ErrorEvent, StartEvent, StepRows

BAR_WIDTH = 24


class ProgressBar:
    """Redraws one line per event: bar, steps, epoch, last loss and the latest epoch metrics."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.total = self.steps_per_epoch = self.step = 0
        self.loss: float | None = None
        self.metrics: dict[str, float] = {}

    def __call__(self, event) -> None:
        if isinstance(event, StartEvent):
            self.total, self.steps_per_epoch, self.step = event.total_steps, event.steps_per_epoch, event.first_step
        elif isinstance(event, StepRows):
            self.step, self.loss = event.steps[-1], float(event.table[-1, 0])
        elif isinstance(event, EpochEvent):
            self.step, self.metrics = event.step, event.metrics
        elif isinstance(event, (EndEvent, ErrorEvent)):
            self.stream.write("\n")
            self.stream.flush()
            return
        else:
            return
        self._draw()

    def line(self) -> str:
        done = min(self.step / self.total, 1.0) if self.total else 0.0
        filled = round(done * BAR_WIDTH)
        parts = [f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self.step}/{self.total} steps"]
        if self.steps_per_epoch:
            epochs = max(self.total // self.steps_per_epoch, 1)
            parts.append(f"epoch {min(self.step // self.steps_per_epoch + 1, epochs)}")
        if self.loss is not None:
            parts.append(f"loss {self.loss:.4f}")
        parts += [f"{name} {value:.4f}" for name, value in self.metrics.items() if name.startswith("val_")]
        return "  ".join(parts)

    def _draw(self) -> None:
        width = shutil.get_terminal_size((100, 20)).columns
        self.stream.write("\r" + self.line()[: width - 1] + "\x1b[K")
        self.stream.flush()
