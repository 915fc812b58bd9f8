"""Core dataset types: the error, the loaded dataset and the registry entry."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal

import torch
from pydantic import BaseModel, ConfigDict

from layerloom.engine.errors import UserError, shown

Task = Literal["classification", "regression"]
# What a model trained on a dataset takes from its user at prediction time (engine.predict reads each kind)
UserInput = Literal["image", "digit", "photo", "sentence", "table"]
DEFAULT_MAX_BYTES = 2 * 1024**3  # the largest dataset file read unless --data-limit says otherwise


class DatasetError(UserError):
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

    def input_label(self, index: int) -> str:
        """How messages name input `index`: "array 'x'" for an npz file, else its position."""
        labels = self.info.get("input_labels")
        return labels[index] if labels else f"input {index + 1}"

    @property
    def target_label(self) -> str:
        """How messages name the target: "array 'y'", "column 'label'", else "the target"."""
        return self.info.get("target_label", "the target")


@dataclass(frozen=True)
class DatasetSpec:
    """A registry entry: name, one-line doc, params model, loader, and what a trained model predicts from. A loader
    that reads the user's files (`reads_files`) also takes the most bytes it may read, checked before reading."""

    name: str
    doc: str
    params: type[BaseModel]
    load: Callable[..., Dataset]
    user_input: UserInput | None = None
    reads_files: bool = False


def baseline_mse(target: torch.Tensor) -> float:
    """MSE of always predicting the mean target (per output element)."""
    return float(((target - target.mean(dim=0)) ** 2).mean())


def data_file(path_text: str, kind: str) -> Path:
    """The path in params.path (a DatasetError when it is empty); fileio refuses it when it is not a regular file."""
    if not path_text.strip():
        raise DatasetError(f"params.path: give the path of {kind}")
    return Path(path_text).expanduser()


def existing_folder(path_text: str, kind: str) -> Path:
    """The path of an existing folder, else a DatasetError naming params.path."""
    path = data_file(path_text, kind)
    if not path.is_dir():
        problem = "is a file, not a folder" if os.path.lexists(path) else "not found"
        raise DatasetError(f"folder '{shown(path)}' {problem} (params.path)")
    return path


def too_large(path: Path, what: str, size: int, max_bytes: int, instead: str = "") -> DatasetError:
    """The error for data over the --data-limit; `instead` is another way out ('lower params.size')."""
    lift = "raise the limit with --data-limit SIZE (e.g. 8GiB) if this machine has the memory"
    return DatasetError(f"'{shown(path)}': {what} is {size:,} bytes, over the {max_bytes:,} byte limit; "
                        f"{instead + ', or ' if instead else ''}{lift}")
