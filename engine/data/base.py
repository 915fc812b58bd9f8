"""Core dataset types: the error, the loaded dataset and the registry entry."""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal

import torch
from pydantic import BaseModel, ConfigDict

Task = Literal["classification", "regression"]
# What a model trained on a dataset takes from its user at prediction time (engine.predict reads each kind)
UserInput = Literal["image", "digit", "photo", "sentence", "table"]


class DatasetError(ValueError):
    """A bad dataset name, params or file; the message is user-facing and names the field or file."""


class DatasetParams(BaseModel):
    """Base of every dataset's params model: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class Dataset:
    """Tensors ready for training: one input tensor per model input node plus the target."""

    inputs: tuple[torch.Tensor, ...]
    target: torch.Tensor
    task: Task
    num_classes: int | None = None
    vocab: list[str] | None = None
    info: dict = field(default_factory=dict)
    name: str = "dataset"

    def __post_init__(self) -> None:
        self.inputs = tuple(self.inputs)
        sizes = {len(tensor) for tensor in (*self.inputs, self.target)}
        if len(sizes) != 1:
            raise ValueError(f"dataset '{self.name}': inputs and target differ in sample count {sorted(sizes)}")

    @property
    def input_shapes(self) -> list[tuple[int, ...]]:
        """Per-sample shape of each input (without the sample dimension)."""
        return [tuple(tensor.shape[1:]) for tensor in self.inputs]

    def __len__(self) -> int:
        return len(self.target)

    def describe(self) -> dict:
        """What a trained model needs to read new inputs and name its answers, as JSON data (run folders keep it)."""
        return {"name": self.name, "task": self.task, "num_classes": self.num_classes, "vocab": self.vocab,
                "info": self.info}


@dataclass(frozen=True)
class DatasetSpec:
    """A registry entry: name, one-line doc, params model, loader, and what a trained model predicts from."""

    name: str
    doc: str
    params: type[BaseModel]
    load: Callable[[BaseModel, int], Dataset]
    user_input: UserInput | None = None


def baseline_mse(target: torch.Tensor) -> float:
    """MSE of always predicting the mean target (per output element)."""
    return float(((target - target.mean(dim=0)) ** 2).mean())


def read_file(path: Path, limit: int, what: str) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; a folder, pipe or device is refused unopened."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise DatasetError(f"'{path}' is {kind}, not {'an' if what[0] in 'aeiou' else 'a'} {what} file")
        if info.st_size > limit:
            raise DatasetError(f"file '{path}' is {info.st_size:,} bytes, over the {limit:,} byte {what} limit")
        with open(path, "rb") as handle:
            return handle.read(limit + 1)
    except OSError as error:
        raise DatasetError(f"file '{path}' cannot be read: {(error.strerror or str(error)).lower()}") from None


def existing_file(path_text: str, kind: str) -> Path:
    """The path of an existing regular file, else a DatasetError naming params.path."""
    return _existing(path_text, kind, folder=False)


def existing_folder(path_text: str, kind: str) -> Path:
    """The path of an existing folder, else a DatasetError naming params.path."""
    return _existing(path_text, kind, folder=True)


def _existing(path_text: str, kind: str, folder: bool) -> Path:
    if not path_text.strip():
        raise DatasetError(f"params.path: give the path of {kind}")
    path = Path(path_text).expanduser()
    wanted, other = ("folder", "file") if folder else ("file", "folder")
    if not (path.is_dir() if folder else path.is_file()):
        problem = f"is a {other}, not a {wanted}" if (path.is_file() if folder else path.is_dir()) else "not found"
        raise DatasetError(f"{wanted} '{path}' {problem} (params.path)")
    return path
