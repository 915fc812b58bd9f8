"""Starts training and probe runs of a document, one at a time, each in its own folder and child process."""
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

from .process import EngineProcess, engine_command
from .run_store import RunSeries


def new_run_folder(runs_dir: Path, arch: Architecture) -> Path:
    """Create a fresh `<runs_dir>/<date-time>-<document name>[-n]` folder (creating it reserves the name)."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", arch.name).strip("-").lower()[:40] or "run"
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
    """Owns the current run: its process, its RunSeries and the temporary copy of the document it trains."""

    started = Signal(object)    # RunSeries
    finished = Signal(object)   # RunSeries

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.run: RunSeries | None = None
        self._process: EngineProcess | None = None
        self._copy: Path | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.running

    def train(self, arch: Architecture, runs_dir: Path, extra: Sequence[str] = ()) -> RunSeries:
        """Train `arch` (as it is now) into a new folder under `runs_dir`, streaming events back."""
        folder = new_run_folder(Path(runs_dir), arch)
        run = RunSeries(folder.name, folder)
        return self._start(run, arch, ["train", "{doc}", "--events", "-", "--out", str(folder), *extra])

    def probe(self, arch: Architecture) -> RunSeries:
        """One forward/backward pass at initialization, no training."""
        return self._start(RunSeries(f"probe: {arch.name}", mode="probe"), arch, ["probe", "{doc}", "--events", "-"])

    def stop(self) -> None:
        if self.running:
            self._process.stop()

    def shutdown(self) -> None:
        """Stop the run and wait for its process to end (the editor is closing)."""
        if self.running:
            self._process.stop_and_wait()

    def _start(self, run: RunSeries, arch: Architecture, args: list[str]) -> RunSeries:
        if self.running:
            raise RuntimeError("a run is already going")
        handle, name = tempfile.mkstemp(prefix="layerloom-", suffix=".json")
        os.close(handle)
        self._copy = Path(name)
        engine.save(arch, self._copy)
        self.run = run
        self._process = EngineProcess(run.feed, parent=self)
        self._process.finished.connect(self._on_finished)
        program, arguments = engine_command(*(str(self._copy) if a == "{doc}" else a for a in args))
        self._process.start(program, arguments)
        self.started.emit(run)
        return run

    def _on_finished(self, exit_code: int, stopped: bool) -> None:
        process, run = self._process, self.run
        run.finish(exit_code, process.stderr, stopped)
        if self._copy is not None:
            self._copy.unlink(missing_ok=True)
            self._copy = None
        process.deleteLater()
        self._process = None
        self.finished.emit(run)
