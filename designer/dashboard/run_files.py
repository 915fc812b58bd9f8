"""Run folders on disk: list them with a one-line summary each, without reading whole event logs."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from layerloom.engine import fileio
from layerloom.engine.files import MAX_FILE_BYTES
from layerloom.engine.train.events import EndEvent, EpochEvent, RunStatus, status_after
from layerloom.engine.train.runfolder import ARCHITECTURE, EVENTS, MODEL

from .stream import parse_line

TAIL_BYTES = 64_000


@dataclass(frozen=True)
class RunInfo:
    """What the runs list shows of one folder."""

    folder: Path
    name: str
    document: str
    status: RunStatus
    step: int = 0
    metrics: dict = field(default_factory=dict)
    has_model: bool = False
    modified: float = 0.0


def document_name(folder: Path) -> str:
    """The name of the document a run trained, from its architecture.json ('' when unreadable)."""
    try:
        name = json.loads(fileio.read_bytes(folder / ARCHITECTURE, MAX_FILE_BYTES, "document")).get("name", "")
    except (fileio.FileError, ValueError, AttributeError, RecursionError):
        return ""
    return name if isinstance(name, str) else ""


def is_run(folder: Path) -> bool:
    return (folder / EVENTS).is_file() and (folder / ARCHITECTURE).is_file()


def read_info(folder: Path) -> RunInfo:
    """Status, last step and final (or latest epoch) metrics, from the events at the end of events.jsonl."""
    path = folder / EVENTS
    with fileio.open_read(path) as handle:
        handle.seek(max(0, os.fstat(handle.fileno()).st_size - TAIL_BYTES))
        tail = [event for event in map(parse_line, handle.read().splitlines()) if event is not None]
    status, step, metrics = "unfinished", 0, {}
    for event in tail:   # the first line may be cut short by the seek: it does not parse and is left out
        status, step = status_after(status, event), getattr(event, "step", None) or step
        if isinstance(event, EpochEvent):
            metrics = event.metrics
        elif isinstance(event, EndEvent):
            metrics = event.metrics or metrics
    return RunInfo(folder, folder.name, document_name(folder), status, int(step), dict(metrics),
                   (folder / MODEL).is_file(), path.stat().st_mtime)


def list_runs(runs_dir: Path | None) -> list[RunInfo]:
    """Every run folder directly under `runs_dir`, newest first."""
    if runs_dir is None or not Path(runs_dir).is_dir():
        return []
    runs = []
    with os.scandir(runs_dir) as entries:
        for entry in entries:
            folder = Path(entry.path)
            if entry.is_dir() and is_run(folder):
                try:
                    runs.append(read_info(folder))
                except (OSError, fileio.FileError):
                    continue
    return sorted(runs, key=lambda info: info.modified, reverse=True)
