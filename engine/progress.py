"""Progress of long commands (train, import, export, the templates bench) on stderr, through tqdm.

tqdm sizes the bar to the terminal, redraws it in place, draws nothing when stderr is not a terminal (a pipe, a
log file, the designer's child process) and has a notebook form; a bar never writes to stdout, where event
streams go.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator, TextIO

from tqdm import tqdm

from .train.events import EndEvent, EpochEvent, ErrorEvent, StartEvent, StepRows


class Bar(tqdm):
    """tqdm without its monitor thread (which only shortens the wait for a redraw after a long pause)."""

    monitor_interval = 0


def bar(total: int | None, description: str, unit: str = "it", stream: TextIO | None = None, **options) -> Bar:
    """A progress bar on `stream` (stderr), drawn only when it is a terminal."""
    return Bar(total=total, desc=description, unit=unit, file=stream or sys.stderr, disable=None,
               dynamic_ncols=True, leave=True, **options)


@contextmanager
def stages(description: str, names: list[str], stream: TextIO | None = None) -> Iterator:
    """A bar over the named stages of one command: call the yielded function with each stage's name as it starts."""
    progress = bar(len(names), description, "stage", stream,
                   bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt}{postfix} [{elapsed}]")  # a rate of stages means nothing
    done = []

    def begin(name: str) -> None:
        if done:
            progress.update(1)
        done.append(name)
        progress.set_postfix_str(name)

    try:
        yield begin
        progress.set_postfix_str("done", refresh=False)
        progress.update(len(names) - progress.n)
    finally:
        progress.close()


class TrainingProgress:
    """An event callback: steps done of the run, epoch, the last loss and the latest validation metrics."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream
        self.bar: Bar | None = None
        self.epochs = self.steps_per_epoch = 0
        self.postfix: dict[str, str] = {}

    def __call__(self, event) -> None:
        if isinstance(event, StartEvent):
            self.close()
            self.bar = bar(event.total_steps, "training", "step", self.stream)
            self.bar.update(event.first_step)
            self.steps_per_epoch = event.steps_per_epoch
            self.epochs = max(event.total_steps // max(event.steps_per_epoch, 1), 1)
        elif self.bar is None:
            return
        elif isinstance(event, StepRows):  # monitored steps, read in batches: the last one's loss
            self._show(event.steps[-1], {"loss": f"{float(event.table[-1, 0]):.4f}"})
        elif isinstance(event, EpochEvent):  # one validation number keeps the bar itself in view
            shown = next((k for k in ("val_accuracy", "val_loss") if k in event.metrics), None)
            self._show(event.step, {shown: f"{event.metrics[shown]:.4f}"} if shown else {})
        elif isinstance(event, (EndEvent, ErrorEvent)):
            self.close()

    def _show(self, step: int, values: dict[str, str]) -> None:
        epoch = min(step // max(self.steps_per_epoch, 1) + 1, self.epochs)
        self.postfix = {"epoch": str(epoch)} | {k: v for k, v in self.postfix.items() if k != "epoch"} | values
        self.bar.set_postfix(self.postfix, refresh=False)
        self.bar.update(step - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
