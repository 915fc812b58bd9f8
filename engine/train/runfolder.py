"""A run folder: the document trained, its event stream, the weights and the state needed to resume.

    architecture.json   the document as trained (command-line overrides applied to its training section)
    events.jsonl        every event of the run, one JSON object per line
    dataset.json        what the model learnt to read and answer: task, class names, vocabulary (Dataset.describe)
    checkpoint.pt       the snapshot --resume continues from, in one file: weights, optimizer state, position,
                        random states and how much of events.jsonl it covers
    model.pt            the model's state_dict: model.load_state_dict(torch.load(path, weights_only=True))

Every file is replaced atomically. checkpoint.pt is written before model.pt, and resuming reads checkpoint.pt
alone, so a kill at any moment leaves a snapshot that is whole and consistent. A folder that already holds a run
is only continued (--resume) or replaced (--overwrite, once the new run's first snapshot is written beside it).
Weights are only ever read with `weights_only=True`, so a run folder cannot make LayerLoom run code.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch

from .. import fileio, files
from ..document import Architecture
from ..errors import shown
from .events import EventSink
from .setup import TrainingError

ARCHITECTURE, EVENTS, MODEL, CHECKPOINT = "architecture.json", "events.jsonl", "model.pt", "checkpoint.pt"
DATASET = "dataset.json"
SNAPSHOT_KEYS = {"step": int, "epoch": int, "batch": int, "events_bytes": int, "model": dict, "optimizer": dict,
                 "shuffle_state": torch.Tensor, "rng_state": torch.Tensor}


class RunFolder:
    """The files of one training run; `start` opens it for a new or continued run and its event log."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.events: EventSink | None = None
        self.replacing: Path | None = None  # --overwrite: the folder the new run replaces once it has a snapshot

    @property
    def events_path(self) -> Path:
        return self.path / EVENTS

    def start(self, arch: Architecture, resume: bool = False, overwrite: bool = False) -> dict | None:
        """Open the folder for a run of `arch`: its snapshot when resuming (else None). A folder that holds
        anything is refused unless the run resumes it or overwrites it."""
        state = None
        if resume:
            state = self.snapshot()
            self._clean_temporaries()
            _truncate(self.events_path, state["events_bytes"])
        elif self._holds_files():
            if not overwrite:
                raise TrainingError(f"{shown(self.path)} already holds files: --resume continues its run, "
                                    "--overwrite replaces it, or choose another --out")
            self.replacing, self.path = self.path, self._staging()
        fileio.make_folder(self.path)
        files.save(arch, self.path / ARCHITECTURE)
        self.events = EventSink(self.events_path)
        return state

    def describe_data(self, description: dict) -> None:
        """Write dataset.json, so predictions need neither the training data nor its folder."""
        fileio.write_text(self.path / DATASET, json.dumps(description, indent=1) + "\n")

    def data_description(self) -> dict | None:
        """The dataset.json of the run, or None for a run from before LayerLoom wrote one."""
        path = self.path / DATASET
        if not os.path.lexists(path):
            return None
        try:
            description = json.loads(fileio.read_bytes(path))
        except ValueError as error:
            raise TrainingError(f"{shown(path)} is not JSON: {shown(error, 200)}") from None
        if not isinstance(description, dict):
            raise TrainingError(f"{shown(path)} is not a dataset description (a JSON object)")
        return description

    def save(self, model: torch.nn.Module, snapshot: dict) -> None:
        """Write the snapshot (with the weights and the event log's length), then model.pt."""
        weights = model.state_dict()
        fileio.save_torch(snapshot | {"model": weights, "events_bytes": self.events.tell()}, self.path / CHECKPOINT)
        fileio.save_torch(weights, self.path / MODEL)
        if self.replacing is not None:
            self._replace()

    def save_weights(self, weights: dict) -> None:
        """Write model.pt alone (a failed run's last good weights); the snapshot stays the last one saved."""
        if self.replacing is None:
            fileio.save_torch(weights, self.path / MODEL)

    def close(self) -> None:
        """Close the event log; a replacing run that never wrote a snapshot is removed (the old run stays)."""
        if self.events is not None:
            self.events.close()
        if self.replacing is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path, self.replacing = self.replacing, None

    def architecture(self) -> Architecture:
        return files.load(self._existing(ARCHITECTURE))

    def load_model(self, model: torch.nn.Module) -> None:
        """Load model.pt into `model`; weights of another model are a clear error."""
        path = self._existing(MODEL)
        load_state(model, fileio.load_torch(path), path)

    def snapshot(self) -> dict:
        """checkpoint.pt, checked to hold every part of a snapshot."""
        path = self._existing(CHECKPOINT, "cannot resume: ")
        state = fileio.load_torch(path, "LayerLoom checkpoint")
        if not isinstance(state, dict):
            raise TrainingError(f"{shown(path)} is not a LayerLoom checkpoint")
        for key, kind in SNAPSHOT_KEYS.items():
            if not isinstance(state.get(key), kind) or (kind is int and state[key] < 0):
                problem = "is missing" if key not in state else f"is not a {kind.__name__}"
                raise TrainingError(f"{shown(path)} is not a checkpoint this LayerLoom can resume: "
                                    f"'{key}' {problem}")
        return state

    def _existing(self, name: str, prefix: str = "") -> Path:
        if not self.path.is_dir():
            what = "it is a file" if os.path.lexists(self.path) else "no such folder"
            raise TrainingError(f"{prefix}{shown(self.path)} is not a run folder ({what})")
        path = self.path / name
        if not os.path.lexists(path):
            raise TrainingError(f"{prefix}{shown(self.path)} is not a run folder: {name} is missing")
        return path

    def _holds_files(self) -> bool:
        try:
            with os.scandir(self.path) as entries:
                return any(True for _ in entries)
        except FileNotFoundError:
            return False
        except NotADirectoryError:
            raise TrainingError(f"--out {shown(self.path)} is a file, not a folder") from None
        except OSError as error:
            raise fileio.FileError("read", self.path, fileio.reason(error)) from None

    def _staging(self) -> Path:
        """A new folder beside this one for the replacing run; those of earlier replacing runs that died go."""
        for stale in self.path.parent.glob(f".{self.path.name}.new-*"):
            shutil.rmtree(stale, ignore_errors=True)
        return self.path.parent / f".{self.path.name}.new-{os.getpid()}"

    def _replace(self) -> None:
        """The new run has a snapshot: it takes the old run's place, and the old run goes."""
        old = self.replacing.parent / f".{self.replacing.name}.old-{os.getpid()}"
        try:
            os.replace(self.replacing, old)
            os.replace(self.path, self.replacing)
        except OSError as error:
            raise fileio.FileError("replace", self.replacing, fileio.reason(error)) from None
        shutil.rmtree(old, ignore_errors=True)
        self.path, self.replacing = self.replacing, None

    def _clean_temporaries(self) -> None:
        """Remove what a killed run left half-written (fileio's `.NAME.*.tmp` files)."""
        for name in (ARCHITECTURE, DATASET, MODEL, CHECKPOINT):
            for stale in self.path.glob(f".{name}.*.tmp"):
                stale.unlink(missing_ok=True)


def load_state(model: torch.nn.Module, weights, source: Path) -> None:
    """Load a state_dict read from `source` into `model`; anything else, or the first missing, surplus or misshapen
    parameter, is a FileError naming the file."""
    if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        raise fileio.FileError("use", source, "it does not hold a model's weights (a state_dict, like a run's model.pt)")
    expected = model.state_dict()
    for name, tensor in expected.items():
        if name not in weights:
            raise fileio.FileError("use", source, f"parameter '{name}' is missing (weights of another architecture?)")
        if weights[name].shape != tensor.shape:
            raise fileio.FileError("use", source, f"parameter '{name}' has shape {tuple(weights[name].shape)}, the "
                                                  f"model's has {tuple(tensor.shape)}")
    surplus = next((name for name in weights if name not in expected), None)
    if surplus is not None:
        raise fileio.FileError("use", source, f"parameter '{shown(surplus, 80)}' is not in this model "
                                              "(weights of another architecture?)")
    model.load_state_dict(weights)


def _truncate(path: Path, length: int) -> None:
    """Cut the event log back to what the snapshot covers: the events of steps it does not hold go."""
    try:
        if os.path.isfile(path) and os.path.getsize(path) > length:
            os.truncate(path, length)
    except OSError as error:
        raise fileio.FileError("write", path, fileio.reason(error)) from None
