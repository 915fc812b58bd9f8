"""What training, probing, evaluation and sampling share: device, seeding, model, data and the split."""
from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch

from ..compiler import compile_model
from ..config import TrainingConfig
from ..data import Dataset, DatasetError, check_fits, load_dataset
from ..data.base import DEFAULT_MAX_BYTES
from ..blocks import instantiate
from ..document import Architecture, is_instance
from ..errors import UserError


ID_BOUNDS = {"embedding": "num_embeddings", "one_hot": "num_classes"}  # layers that index by their input's values


class TrainingError(UserError):
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


def training_config(arch: Architecture, overrides: dict | None = None) -> TrainingConfig:
    """The document's training section with `overrides` (TrainOptions.overrides()) applied and validated."""
    if arch.training is None:
        raise TrainingError(
            f"document '{arch.name}' has no training section: add \"training\": "
            "{\"dataset\": {\"name\": ...}, \"loss\": ...} to train it",
        )
    if not overrides:
        return arch.training
    return TrainingConfig.model_validate(arch.training.model_dump() | overrides)


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


def load_data(arch: Architecture, config: TrainingConfig, max_bytes: int = DEFAULT_MAX_BYTES) -> Dataset:
    """The dataset named in the training section (reading at most `max_bytes` of files), checked against the
    model's inputs."""
    return check_inputs(arch, load_dataset(config.dataset.name, dict(config.dataset.params), config.seed, max_bytes))


def check_inputs(arch: Architecture, dataset: Dataset) -> Dataset:
    """`dataset`, once its inputs are known to fit the model's input nodes: count, shape, dtype, and token ids within
    every embedding or one-hot encoding they index (else DatasetError naming the array, the sample and the node)."""
    nodes = input_nodes(arch)
    check_fits(dataset, [n.id for n in nodes], [tuple(n.params.shape) for n in nodes],
               [getattr(torch, n.params.dtype) for n in nodes])
    for position, node in enumerate(nodes):
        ids = dataset.inputs[position]
        for reader, bound, size in id_readers(arch, node.id):
            outside = ((ids < 0) | (ids >= size)).reshape(len(ids), -1).any(1).nonzero()
            if len(outside):
                raise DatasetError(_outside_message(dataset, position, ids, int(outside[0]), reader, bound, size))
    return dataset


def _outside_message(dataset: Dataset, position: int, ids: torch.Tensor, sample: int, reader: str, bound: str,
                     size: int) -> str:
    """Why sample `sample` of input `position` cannot be read by node `reader` (ids 0 to size - 1); for a dataset
    with a vocabulary (text, text_csv) the size to set instead."""
    row = ids[sample]
    bad = int(row[(row < 0) | (row >= size)].reshape(-1)[0])
    takes = f"node '{reader}' takes ids 0 to {size - 1} ({bound} {size})"
    if dataset.vocab is not None and 0 <= bad < len(dataset.vocab):
        return (f"dataset '{dataset.name}' has a vocabulary of {len(dataset.vocab):,} tokens, but {takes}: "
                f"set {bound} to {len(dataset.vocab):,}")
    return f"dataset '{dataset.name}': {dataset.input_label(position)} holds token id {bad} (sample {sample}), but {takes}"


def id_readers(arch: Architecture, input_id: str, prefix: str = "") -> list[tuple[str, str, int]]:
    """(node, param, size) of each layer that input node `input_id` feeds directly, or through the inputs of block
    instances, and that reads its values as ids below `size` (an embedding's num_embeddings, a one-hot encoding's
    num_classes); a layer inside instances is named by its dotted path ('encoder.embed')."""
    nodes = {n.id: n for n in arch.nodes}
    found = []
    for edge in arch.edges:
        reader = nodes.get(edge.target) if edge.source == input_id else None
        if reader is None:
            continue
        if reader.type in ID_BOUNDS:
            found.append((prefix + reader.id, ID_BOUNDS[reader.type], getattr(reader.params, ID_BOUNDS[reader.type])))
        elif is_instance(reader) and reader.type in arch.blocks:
            body, _ = instantiate(arch, reader)
            inputs = arch.blocks[reader.type].input_ids
            inner = inputs[0] if len(inputs) == 1 else edge.target_port
            if body is not None:  # only the first copy of a repeat reads the input
                found += id_readers(body, inner, f"{prefix}{reader.id}.{'0.' if reader.repeat != 1 else ''}")
    return found


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
    tensors = []
    for node in input_nodes(arch):
        shape = (batch, *node.params.shape)
        if node.params.dtype == "int64":
            sizes = [size for _, _, size in id_readers(arch, node.id)]
            tensors.append(torch.randint(0, min(sizes, default=2), shape, generator=generator))
        else:
            tensors.append(torch.randn(shape, generator=generator))
    return tuple(tensors)
