"""Training memory at a batch size (weights, gradients, optimizer state, activations), and how to write it."""
from __future__ import annotations

import os
from typing import NamedTuple

import torch

from ..config import MAX_BATCH_SIZE, OptimizerConfig, TrainingConfig
from ..document import Architecture
from ..errors import DocumentError
from ..train.optimizers import state_bytes
from .graph import CostReport
from .units import binary_unit, format_bytes, short_number


class TrainingMemory(NamedTuple):
    """What training holds at once at a batch size, by kind (bytes)."""

    batch_size: int
    optimizer: str
    param_bytes: int        # parameters and buffers (running statistics)
    grad_bytes: int
    optimizer_bytes: int
    activation_bytes: int   # what autograd keeps for the backward pass

    @property
    def training_bytes(self) -> int:
        return self.param_bytes + self.grad_bytes + self.optimizer_bytes + self.activation_bytes

    def describe(self) -> str:
        """'training memory at batch 64: 1.9 GiB (activations 1.2, parameters 0.2, gradients 0.2, Adam state 0.4)'."""
        return f"training memory at batch {self.batch_size:,}: {self.amount()}"

    def amount(self) -> str:
        """'1.9 GiB (activations 1.2, parameters 0.2, gradients 0.2, Adam state 0.4)': the parts in the total's unit."""
        unit, scale = binary_unit(self.training_bytes)
        parts = [("activations", self.activation_bytes), ("parameters", self.param_bytes),
                 ("gradients", self.grad_bytes), (f"{OPTIMIZER_NAMES[self.optimizer]} state", self.optimizer_bytes)]
        detail = ", ".join(f"{name} {short_number(value / scale)}" for name, value in parts if value)
        return f"{short_number(self.training_bytes / scale)} {unit}" + (f" ({detail})" if detail else "")


OPTIMIZER_NAMES = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "rmsprop": "RMSprop"}


def training_memory(costs: CostReport, batch_size: int, optimizer: OptimizerConfig) -> TrainingMemory:
    """The memory training needs at `batch_size` with `optimizer` (float32 weights, as LayerLoom builds them)."""
    per_value, per_tensor = state_bytes(optimizer)
    values = sum(cost.trainable_values for cost in costs.nodes.values())
    tensors = sum(cost.trainable_tensors for cost in costs.nodes.values())
    return TrainingMemory(
        batch_size=batch_size, optimizer=optimizer.name,
        param_bytes=sum(cost.weight_bytes for cost in costs.nodes.values()),
        grad_bytes=values * torch.float32.itemsize, optimizer_bytes=values * per_value + tensors * per_tensor,
        activation_bytes=costs.activation.at(batch_size),
    )


def document_memory(arch: Architecture, costs: CostReport, batch_size: int | None = None) -> TrainingMemory:
    """Training memory at `batch_size` (see batch_size_of) with the document's optimizer (Adam without a training
    section)."""
    optimizer = arch.training.optimizer if arch.training else OptimizerConfig()
    return training_memory(costs, batch_size_of(arch, batch_size), optimizer)


def batch_size_of(arch: Architecture, batch_size: int | None = None) -> int:
    """`batch_size` if given, else the training section's (or its default); ValueError unless 1 to MAX_BATCH_SIZE."""
    if batch_size is None:
        return arch.training.batch_size if arch.training else TrainingConfig.model_fields["batch_size"].default
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"a batch holds 1 to {MAX_BATCH_SIZE:,} samples, not {batch_size}")
    return batch_size


def machine_memory() -> int | None:
    """This machine's physical memory in bytes, where the system says."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def available_memory() -> int | None:
    """Memory a new allocation can have without swapping (Linux's MemAvailable), else the machine's memory."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:  # a kernel file: regular, never blocks
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return machine_memory()


def check_available(need: int, what: str) -> None:
    """Before allocating: a DocumentError when `what` needs more memory than this machine has available."""
    have = available_memory()
    if have is not None and need > have:
        raise DocumentError(f"{what} needs {format_bytes(need)}, and this machine has {format_bytes(have)} available: "
                            "make the model smaller")

