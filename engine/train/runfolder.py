"""A run folder: the document trained, its event stream, the weights and the state needed to resume.

    architecture.json   the document as trained (command-line overrides applied to its training section)
    events.jsonl        every event of the run, one JSON object per line
    dataset.json        what the model learnt to read and answer: task, class names, vocabulary (Dataset.describe)
    model.pt            the model's state_dict: model.load_state_dict(torch.load(path, weights_only=True))
    checkpoint.pt       optimizer state, position and random states, for --resume

Weights are only ever read with `weights_only=True`, so a run folder cannot make LayerLoom run code.
"""
from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import torch

from .. import files
from ..document import Architecture
from .setup import TrainingError

ARCHITECTURE, EVENTS, MODEL, CHECKPOINT = "architecture.json", "events.jsonl", "model.pt", "checkpoint.pt"
DATASET = "dataset.json"


def save_atomic(obj, path: str | os.PathLike) -> None:
    """torch.save, atomically (engine.files.atomic_path): `path` holds the old contents or the new, never a part."""
    with files.atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_weights(path: Path) -> dict:
    """A file written by save_atomic, read without unpickling arbitrary objects."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise TrainingError(f"{path} does not exist") from None
    except (pickle.UnpicklingError, RuntimeError, EOFError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise TrainingError(f"{path} is not a LayerLoom weights file: {first_line}") from None


class RunFolder:
    """The files of one training run."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    @property
    def events_path(self) -> Path:
        return self.path / EVENTS

    def start(self, arch: Architecture, fresh: bool) -> None:
        """Create the folder and write the document; a fresh run also empties the event log."""
        if self.path.exists() and not self.path.is_dir():
            raise TrainingError(f"{self.path} exists and is not a folder")
        self.path.mkdir(parents=True, exist_ok=True)
        files.save(arch, self.path / ARCHITECTURE)
        if fresh:
            self.events_path.write_text("")
            (self.path / CHECKPOINT).unlink(missing_ok=True)

    def describe_data(self, description: dict) -> None:
        """Write dataset.json, so predictions need neither the training data nor its folder."""
        with files.atomic_path(self.path / DATASET) as tmp:
            tmp.write_text(json.dumps(description, indent=1) + "\n", encoding="utf-8")

    def data_description(self) -> dict | None:
        """The dataset.json of the run, or None for a run from before LayerLoom wrote one."""
        path = self.path / DATASET
        if not path.is_file():
            return None
        try:
            description = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise TrainingError(f"{path} cannot be read: {error}") from None
        if not isinstance(description, dict):
            raise TrainingError(f"{path} is not a dataset description (a JSON object)")
        return description

    def save(self, model: torch.nn.Module, checkpoint: dict | None = None) -> None:
        """Write the weights, then (when given) the resume state."""
        save_atomic(model.state_dict(), self.path / MODEL)
        if checkpoint is not None:
            save_atomic(checkpoint, self.path / CHECKPOINT)

    def architecture(self) -> Architecture:
        path = self.path / ARCHITECTURE
        if not path.is_file():
            raise TrainingError(f"{self.path} is not a run folder: {ARCHITECTURE} is missing")
        return files.load(path)

    def load_model(self, model: torch.nn.Module) -> None:
        """Load model.pt into `model`; a different architecture is a clear error."""
        try:
            model.load_state_dict(load_weights(self.path / MODEL))
        except RuntimeError as error:
            reason = str(error).strip().splitlines()
            raise TrainingError(f"{self.path / MODEL} does not fit this architecture: {reason[-1].strip()}") from None

    def checkpoint(self) -> dict:
        if not (self.path / CHECKPOINT).is_file():
            raise TrainingError(f"cannot resume: {self.path / CHECKPOINT} is missing (was the run started here?)")
        return load_weights(self.path / CHECKPOINT)

