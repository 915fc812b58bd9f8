"""One `layerloom train` run in this process: where its events go, the progress display, Ctrl-C, the closing line.

The command line runs it directly; with `--nproc N` every process of the group runs it (distributed.py), and only
rank 0 writes events and reports.
"""
from __future__ import annotations

import signal
import sys
from pathlib import Path

from ..document import Architecture
from .events import EventSink
from .group import rank
from ..progress import TrainingProgress
from .runfolder import EVENTS
from .setup import TrainingError
from .trainer import Trainer, TrainOptions


def train(arch: Architecture, options: TrainOptions, events: str | None = None) -> int:
    """Train `arch` as `options` say, with the event stream also going to `events` (a file, or '-' for stdout).
    Prints the outcome and the run folder; a failed run raises TrainingError with its reason."""
    lead = rank() == 0
    sink = _event_sink(events, options.out_dir) if lead else None
    callbacks = [sink] if sink else []
    progress = TrainingProgress(sys.stderr) if lead else None
    if progress:
        callbacks.append(progress)
    trainer = Trainer(arch, options, on_event=lambda event: [callback(event) for callback in callbacks])

    def cancel_once(*_) -> None:
        """A first Ctrl-C stops after the current step and saves; a second one interrupts."""
        trainer.cancel()
        signal.signal(signal.SIGINT, previous)

    previous = signal.signal(signal.SIGINT, cancel_once)
    try:
        result = trainer.run()
    finally:
        signal.signal(signal.SIGINT, previous)
        for closer in (progress, sink):
            if closer:
                closer.close()
    if result.status == "failed":
        raise TrainingError(result.error)
    if lead:
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items())
        report = sys.stderr if events == "-" else sys.stdout
        print(f"{result.status} after {result.step} steps in {result.seconds:.1f} s: {metrics}", file=report)
        print(f"run folder: {options.out_dir}", file=report)
    return 0


def _event_sink(target: str | None, run_dir: Path | None) -> EventSink | None:
    """A sink for --events, unless it names the run folder's own event log (which the run writes anyway)."""
    if target is None:
        return None
    if target != "-" and run_dir is not None and Path(target).absolute() == (run_dir / EVENTS).absolute():
        return None
    return EventSink(target)
