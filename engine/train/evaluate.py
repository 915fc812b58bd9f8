"""Evaluating a finished run: validation metrics and, for classification, the confusion matrix."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..config import TrainingConfig
from ..data import Dataset
from ..data.base import DEFAULT_MAX_BYTES
from ..document import Architecture
from .losses import Objective, measure
from .runfolder import RunFolder
from .setup import Split, build_model, load_data, resolve_device, split, training_config

MAX_PRINTED_CLASSES = 20


@dataclass
class TrainedRun:
    """A run folder brought back to life: its document, trained model, dataset and split."""

    arch: Architecture
    config: TrainingConfig
    model: torch.nn.Module
    dataset: Dataset
    split: Split
    device: torch.device


def load_run(run_dir: str | Path, device: str = "cpu", data_limit: int = DEFAULT_MAX_BYTES) -> TrainedRun:
    """Rebuild a run's model from architecture.json and model.pt, with its dataset and the same split."""
    folder = RunFolder(run_dir)
    arch = folder.architecture()
    config = training_config(arch)
    target_device = resolve_device(device)
    model = build_model(arch, config.seed)
    folder.load_model(model)
    model.to(target_device).eval()
    dataset = load_data(arch, config, data_limit)
    parts = split(len(dataset), config.val_fraction, config.seed)
    return TrainedRun(arch, config, model, dataset, parts, target_device)


@dataclass
class Evaluation:
    """Metrics of a trained model on its validation part, and the confusion matrix for classification."""

    part: str  # "validation", or "all" when the run held nothing out
    samples: int
    metrics: dict[str, float]
    class_names: list[str] | None = None
    confusion: list[list[int]] | None = None  # rows: true class, columns: predicted class

    def to_dict(self) -> dict:
        return dict(vars(self))


def evaluate(run_dir: str | Path, device: str = "cpu", data_limit: int = DEFAULT_MAX_BYTES) -> Evaluation:
    """Evaluate a run folder's model on the validation part it was trained with (all data if none was held out)."""
    run = load_run(run_dir, device, data_limit)
    index = run.split.val if len(run.split.val) else torch.arange(len(run.dataset))
    with torch.no_grad():
        sample = run.model(*(x[:2].to(run.device) for x in run.dataset.inputs))
    dataset = run.dataset
    objective = Objective(run.config.loss, tuple(sample.shape[1:]), tuple(dataset.target.shape[1:]),
                          dataset.target.dtype, dataset.num_classes)
    inputs = tuple(x[index].to(run.device) for x in dataset.inputs)
    target = objective.prepare_target(dataset.target[index], dataset.target_label).to(run.device)
    metrics = measure(run.model, inputs, target, objective, max(run.config.batch_size, 1024))
    result = Evaluation("validation" if len(run.split.val) else "all", len(index), metrics)
    if objective.has_accuracy:
        classes = 2 if objective.name == "bce_with_logits" else sample.shape[-1]
        result.class_names = class_names(dataset, classes)
        result.confusion = confusion_matrix(run.model, inputs, target, objective, classes).tolist()
    return result


def class_names(dataset: Dataset, count: int) -> list[str]:
    """Readable names of `count` classes: the dataset's own, its vocabulary, or the class ids."""
    names = dataset.info.get("class_names")
    if names and len(names) == count:
        return list(names)
    if dataset.vocab and len(dataset.vocab) == count:
        return [repr(token)[1:-1] for token in dataset.vocab]
    return [str(i) for i in range(count)]


@torch.no_grad()
def confusion_matrix(model, inputs, target, objective: Objective, classes: int, batch_size: int = 1024) -> torch.Tensor:
    """Counts of (true, predicted) class pairs over every sample (and token)."""
    counts = torch.zeros(classes * classes, dtype=torch.long)
    for start in range(0, len(target), batch_size):
        output = model(*(x[start:start + batch_size] for x in inputs))
        truth = objective.labels(target[start:start + batch_size]).reshape(-1)
        predicted = objective.predictions(output).reshape(-1)
        counts += torch.bincount((truth * classes + predicted).cpu(), minlength=classes * classes)
    return counts.reshape(classes, classes)


def format_evaluation(result: Evaluation) -> str:
    """The evaluation as text: metrics, then the confusion matrix (or its largest confusions for many classes)."""
    lines = [f"{result.part}: {result.samples} samples"]
    lines += [f"  {name}: {value:.4f}" for name, value in result.metrics.items()]
    if result.confusion is None:
        return "\n".join(lines)
    names = result.class_names
    if len(names) > MAX_PRINTED_CLASSES:
        pairs = sorted(((count, t, p) for t, row in enumerate(result.confusion)
                        for p, count in enumerate(row) if t != p), reverse=True)[:10]
        lines.append("most frequent confusions (true -> predicted: count):")
        lines += [f"  {names[t]} -> {names[p]}: {count}" for count, t, p in pairs if count]
        return "\n".join(lines)
    width = max(max(len(n) for n in names), max(len(str(c)) for row in result.confusion for c in row)) + 1
    lines.append("confusion matrix (rows: true, columns: predicted)")
    lines.append(" " * width + "".join(n.rjust(width) for n in names))
    for t, row in enumerate(result.confusion):
        lines.append(names[t].rjust(width) + "".join(str(c).rjust(width) for c in row))
    return "\n".join(lines)
