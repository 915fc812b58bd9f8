"""A few samples of a dataset as a person looks at them before training: images with their labels, or text."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from layerloom.engine.data.base import Dataset
from layerloom.engine.data.text_csv import PAD


@dataclass
class Preview:
    """`images`: (picture (H, W) or (H, W, 3) in [0, 1], caption); `lines`: samples as text; `summary`: one line."""

    summary: str
    images: list[tuple[np.ndarray, str]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def is_picture(tensor: torch.Tensor) -> bool:
    """A float sample shaped (1 or 3, H, W)."""
    return tensor.is_floating_point() and tensor.dim() == 3 and tensor.shape[0] in (1, 3)


def picture(tensor: torch.Tensor) -> np.ndarray:
    array = tensor.float().clamp(0, 1).numpy()
    return array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0)


def label(dataset: Dataset, target: torch.Tensor) -> str:
    """A per-sample class as its name; anything else (sequences, values) as a short list."""
    names = dataset.info.get("class_names")
    if dataset.task == "classification" and target.dim() == 0:
        index = int(target)
        return names[index] if names and index < len(names) else str(index)
    values = target.reshape(-1).tolist()
    shown = " ".join(names[int(v)] if names else f"{v:.3g}" for v in values[:12])
    return shown + (" ..." if len(values) > 12 else "")


def text_of(dataset: Dataset, ids: torch.Tensor) -> str:
    """Token ids as text: characters joined, words separated by spaces (padding left out); markers such as
    <start> do not make a vocabulary of characters one of words."""
    tokens = [dataset.vocab[i] for i in ids.reshape(-1).tolist() if 0 <= i < len(dataset.vocab)]
    tokens = [t for t in tokens if t != PAD]
    characters = all(len(t) == 1 for t in dataset.vocab if not (t.startswith("<") and t.endswith(">")))
    joined = "".join(tokens) if characters else " ".join(tokens)
    return joined.replace("\n", " / ")


def preview(dataset: Dataset, count: int = 12) -> Preview:
    """`count` samples spread evenly over the dataset (so every class of a sorted folder shows)."""
    index = np.unique(np.linspace(0, len(dataset) - 1, min(count, len(dataset))).round().astype(int))
    shapes = ", ".join(str(tuple(shape)) for shape in dataset.input_shapes)
    classes = f", {dataset.num_classes} classes" if dataset.num_classes else ""
    result = Preview(f"{len(dataset):,} samples, input {shapes}{classes}")
    first = dataset.inputs[0]
    for i in index.tolist():
        sample, target = first[i], dataset.target[i]
        if is_picture(sample) and is_picture(target):
            result.images += [(picture(sample), "in"), (picture(target), "out")]
        elif is_picture(sample):
            result.images.append((picture(sample), label(dataset, target)))
        elif dataset.vocab and not sample.is_floating_point():
            next_tokens = dataset.info.get("per_token") and not dataset.info.get("class_names")
            result.lines.append(text_of(dataset, sample) + ("" if next_tokens else f"  ->  {label(dataset, target)}"))
        else:
            values = ", ".join(f"{v:.3g}" for v in sample.reshape(-1).tolist()[:6])
            result.lines.append(f"[{values}{', ...' if sample.numel() > 6 else ''}]  ->  {label(dataset, target)}")
    return result
