"""Starts training and probe runs of a document, each in its own folder and child process."""
from __future__ import annotations

import itertools
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Sequence

from PySide6.QtCore import QObject, Signal

from layerloom import engine
from layerloom.engine import Architecture
from layerloom.engine.remedies import VARIANT_MARK

from .process import EngineProcess, engine_command
from .run_store import RunSeries


def slugged(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def new_run_folder(runs_dir: Path, arch: Architecture) -> Path:
    """Create a fresh `<runs_dir>/<date-time>-<document name>[-n]` folder (creating it reserves the name)."""
    name, *variants = arch.name.split(VARIANT_MARK)     # a variant keeps its remedies in view: '...-relu'
    slug = "-".join([slugged(name)[:40 - 8 * len(variants)], *map(slugged, variants)]).strip("-") or "run"
    base = f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}"
    runs_dir.mkdir(parents=True, exist_ok=True)
    for number in itertools.count(1):
        folder = runs_dir / (base if number == 1 else f"{base}-{number}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder


class Runner(QObject):
    """Owns the runs going now (one, or an original and its variant side by side): each its process, its
    RunSeries and the temporary copy of the document it trains."""

    started = Signal(object)    # RunSeries
    finished = Signal(object)   # RunSeries

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.runs: dict[RunSeries, tuple[EngineProcess, Path]] = {}

    @property
    def running(self) -> bool:
        return any(process.running for process, _ in self.runs.values())

    def train(self, arch: Architecture, runs_dir: Path, extra: Sequence[str] = ()) -> RunSeries:
        """Train `arch` (as it is now) into a new folder under `runs_dir`, streaming events back."""
        folder = new_run_folder(Path(runs_dir), arch)
        run = RunSeries(folder.name, folder, arch.name)
        return self._start(run, arch, ["train", "{doc}", "--events", "-", "--out", str(folder), *extra])

    def probe(self, arch: Architecture) -> RunSeries:
        """One forward/backward pass at initialization, no training."""
        run = RunSeries(f"probe: {arch.name}", document=arch.name, mode="probe")
        return self._start(run, arch, ["probe", "{doc}", "--events", "-"])

    def live(self, folder: Path) -> RunSeries | None:
        """The run going on in `folder`, if any."""
        return next((run for run in self.runs if run.folder == folder), None)

    def stop(self) -> None:
        for process, _ in self.runs.values():
            process.stop()

    def shutdown(self) -> None:
        """Stop the runs and wait for their processes to end (the editor is closing)."""
        for process, _ in list(self.runs.values()):
            process.stop_and_wait()

    def _start(self, run: RunSeries, arch: Architecture, args: list[str]) -> RunSeries:
        handle, name = tempfile.mkstemp(prefix="layerloom-", suffix=".json")
        os.close(handle)
        copy = Path(name)
        engine.save(arch, copy)
        process = EngineProcess(run.feed, parent=self)
        process.finished.connect(lambda code, stopped: self._on_finished(run, code, stopped))
        self.runs[run] = (process, copy)
        program, arguments = engine_command(*(str(copy) if a == "{doc}" else a for a in args))
        process.start(program, arguments)
        self.started.emit(run)
        return run

    def _on_finished(self, run: RunSeries, exit_code: int, stopped: bool) -> None:
        process, copy = self.runs.pop(run)
        run.finish(exit_code, process.stderr, stopped)
        copy.unlink(missing_ok=True)
        process.deleteLater()
        self.finished.emit(run)
