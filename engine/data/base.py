"""Core dataset types: the error, the loaded dataset and the registry entry."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal

import torch
from pydantic import BaseModel, ConfigDict

Task = Literal["classification", "regression"]


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


@dataclass(frozen=True)
class DatasetSpec:
    """A registry entry: name, one-line doc, params model and loader."""

    name: str
    doc: str
    params: type[BaseModel]
    load: Callable[[BaseModel, int], Dataset]


def baseline_mse(target: torch.Tensor) -> float:
    """MSE of always predicting the mean target (per output element)."""
    return float(((target - target.mean(dim=0)) ** 2).mean())


def existing_file(path_text: str, kind: str) -> Path:
    """The path of an existing regular file, else a DatasetError naming params.path."""
    if not path_text.strip():
        raise DatasetError(f"params.path: give the path of {kind}")
    path = Path(path_text).expanduser()
    if not path.is_file():
        problem = "is a folder, not a file" if path.is_dir() else "not found"
        raise DatasetError(f"file '{path}' {problem} (params.path)")
    return path
