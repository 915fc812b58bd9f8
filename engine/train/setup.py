"""What training, probing, evaluation and sampling share: device, seeding, model, data and the split."""
from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch

from ..compiler import compile_model
from ..config import TrainingConfig
from ..data import Dataset, check_fits, load_dataset
from ..document import Architecture


class TrainingError(ValueError):
    """A run that cannot start or go on; the message is user-facing."""


def resolve_device(name: str) -> torch.device:
    """'auto' picks cuda, then mps, then cpu; a named accelerator must be present."""
    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if name == "cuda" and not cuda:
        raise TrainingError("cuda requested but no CUDA device is available (use --device cpu or auto)")
    if name == "mps" and not mps:
        raise TrainingError("mps requested but no Apple MPS device is available (use --device cpu or auto)")
    if name not in ("cpu", "cuda", "mps"):
        raise TrainingError(f"unknown device '{name}': use auto, cpu, cuda or mps")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    """Seed torch, numpy and Python's random, so a run repeats exactly on the CPU."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def training_config(arch: Architecture, **overrides) -> TrainingConfig:
    """The document's training section with the non-None overrides (epochs, seed, device) applied."""
    if arch.training is None:
        raise TrainingError(
            f"document '{arch.name}' has no training section: add \"training\": "
            "{\"dataset\": {\"name\": ...}, \"loss\": ...} to train it",
        )
    changes = {key: value for key, value in overrides.items() if value is not None}
    return arch.training.model_copy(update=changes) if changes else arch.training


def build_model(arch: Architecture, seed: int) -> torch.nn.Module:
    """The compiled model, initialized from `seed`; training needs exactly one output node."""
    outputs = [n.id for n in arch.nodes if n.type == "output"]
    if len(outputs) != 1:
        found = ", ".join(outputs) or "none"
        raise TrainingError(f"training needs exactly one output node, found {len(outputs)} ({found})")
    seed_everything(seed)
    return compile_model(arch)


def input_nodes(arch: Architecture) -> list:
    """The model's input nodes in forward-argument order."""
    return [n for n in arch.nodes if n.type == "input"]


def load_data(arch: Architecture, config: TrainingConfig) -> Dataset:
    """The dataset named in the training section, checked against the model's inputs."""
    return check_inputs(arch, load_dataset(config.dataset.name, dict(config.dataset.params), config.seed))


def check_inputs(arch: Architecture, dataset: Dataset) -> Dataset:
    """`dataset`, once its inputs are known to fit the model's input nodes (else DatasetError)."""
    nodes = input_nodes(arch)
    check_fits(dataset, [n.id for n in nodes], [tuple(n.params.shape) for n in nodes],
               [getattr(torch, n.params.dtype) for n in nodes])
    return dataset


@dataclass
class Split:
    """Sample indices of the training and validation parts."""

    train: torch.Tensor
    val: torch.Tensor


def split(count: int, val_fraction: float, seed: int) -> Split:
    """A seeded random split; at least one sample trains, and a non-zero fraction validates at least one."""
    if count < 2 and val_fraction > 0:
        raise TrainingError(f"the dataset has {count} sample(s): too few to hold out a validation part")
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    n_val = min(max(round(count * val_fraction), 1 if val_fraction > 0 else 0), count - 1)
    return Split(train=order[n_val:], val=order[:n_val])


def random_inputs(arch: Architecture, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    """Random data of the input shapes: normal floats, or token ids valid for every embedding or one-hot
    encoding they feed."""
    nodes = {n.id: n for n in arch.nodes}
    bounds = {"embedding": "num_embeddings", "one_hot": "num_classes"}
    tensors = []
    for node in input_nodes(arch):
        shape = (batch, *node.params.shape)
        if node.params.dtype == "int64":
            sizes = [getattr(nodes[e.target].params, bounds[nodes[e.target].type]) for e in arch.edges
                     if e.source == node.id and nodes[e.target].type in bounds]
            tensors.append(torch.randint(0, min(sizes, default=2), shape, generator=generator))
        else:
            tensors.append(torch.randn(shape, generator=generator))
    return tuple(tensors)
