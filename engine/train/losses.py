"""The document's loss fitted to a model's output and a dataset's target, and the metrics that follow from it."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..config import CLASSIFICATION_LOSSES, LossName
from ..errors import UserError


class LossMismatch(UserError):
    """The model's output and the dataset's target do not fit the chosen loss; the message says how."""


def _shape(shape) -> str:
    return "(N" + "".join(f", {d}" for d in shape) + ")"


class Objective:
    """A loss checked once against the output and target shapes, so each step only computes.

    Classification losses take class ids: outputs (N, C) or per-token (N, T, C) against targets (N,) or (N, T),
    flattened to (N*T, C); bce_with_logits takes logits shaped like its 0/1 target. Accuracy counts every
    token of a sequence output.
    """

    def __init__(self, name: LossName, output_shape: tuple[int, ...], target_shape: tuple[int, ...],
                 target_dtype: torch.dtype, num_classes: int | None = None):
        self.name = name
        self.output_shape = tuple(output_shape)
        self.has_accuracy = name in CLASSIFICATION_LOSSES
        problem = self._mismatch(tuple(target_shape), target_dtype, num_classes)
        if problem:
            raise LossMismatch(
                f"loss {name}: model output {_shape(output_shape)} does not fit target {_shape(target_shape)} "
                f"({str(target_dtype).removeprefix('torch.')}): {problem}"
            )

    def _mismatch(self, target_shape, target_dtype, num_classes) -> str | None:
        out = self.output_shape
        if self.name in ("cross_entropy", "nll"):
            if target_dtype.is_floating_point:
                return "this loss needs class ids (int64) as targets; use mse or l1 for real-valued targets"
            if not out or out[:-1] != target_shape:
                example = _shape((*target_shape, num_classes or "C"))
                return f"the output needs one score per class in its last dimension, e.g. {example}"
            if num_classes and out[-1] < num_classes:
                return (f"the model scores {out[-1]} classes but the dataset has {num_classes}; "
                        f"set the last layer to {num_classes} outputs")
            return None
        if out != target_shape and out != (*target_shape, 1) and (*out, 1) != target_shape:
            return "the output must have the target's shape"
        return None

    def prepare_target(self, target: torch.Tensor, label: str = "the target") -> torch.Tensor:
        """The target as the loss reads it (done once per dataset, not per step), once its values are known to fit
        the loss: class ids the model scores, 0/1 for bce_with_logits (else LossMismatch naming `label`)."""
        if self.name in ("cross_entropy", "nll"):
            target = target.long()
            self._check_range(target, 0, self.output_shape[-1] - 1, label, "class ids")
            return target
        if self.name == "bce_with_logits":
            self._check_range(target, 0, 1, label, "values")
        return target.float().reshape(len(target), *self.output_shape)

    def _check_range(self, target: torch.Tensor, low: float, high: float, label: str, what: str) -> None:
        outside = ((target < low) | (target > high)).reshape(len(target), -1).any(1).nonzero()
        if len(outside):
            sample = int(outside[0])
            values = target[sample].reshape(-1)
            bad = values[(values < low) | (values > high)][0].item()
            raise LossMismatch(f"loss {self.name}: {label} holds {bad} (sample {sample}); with a model output "
                               f"{_shape(self.output_shape)} this loss needs {what} from {low} to {high}")

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean loss of a batch (per token for sequence outputs)."""
        if self.name == "cross_entropy":
            return F.cross_entropy(output.flatten(0, -2), target.reshape(-1))
        if self.name == "nll":
            return F.nll_loss(output.flatten(0, -2), target.reshape(-1))
        if self.name == "bce_with_logits":
            return F.binary_cross_entropy_with_logits(output, target)
        if self.name == "mse":
            return F.mse_loss(output, target)
        return F.l1_loss(output, target)

    def predictions(self, output: torch.Tensor) -> torch.Tensor:
        """Predicted class ids, shaped like the target (classification losses only)."""
        return (output > 0).long() if self.name == "bce_with_logits" else output.argmax(-1)

    def labels(self, target: torch.Tensor) -> torch.Tensor:
        """True class ids of a prepared target."""
        return (target > 0.5).long() if self.name == "bce_with_logits" else target

    def correct(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """How many predictions (tokens) of the batch are right, as a tensor on the device."""
        return (self.predictions(output) == self.labels(target)).sum()


@torch.no_grad()
def measure(model, inputs: tuple[torch.Tensor, ...], target: torch.Tensor, objective: Objective,
            batch_size: int = 1024) -> dict[str, float]:
    """Mean loss (and accuracy for classification) of `model` over a whole split, in eval mode."""
    was_training = model.training
    model.eval()
    total_loss = torch.zeros((), device=target.device)
    correct = torch.zeros((), device=target.device, dtype=torch.long)
    count = len(target)
    try:
        for start in range(0, count, batch_size):
            output = model(*(x[start:start + batch_size] for x in inputs))
            batch_target = target[start:start + batch_size]
            total_loss += objective.loss(output, batch_target) * len(batch_target)
            if objective.has_accuracy:
                correct += objective.correct(output, batch_target)
    finally:
        model.train(was_training)
    metrics = {"loss": float(total_loss) / max(count, 1)}
    if objective.has_accuracy:
        metrics["accuracy"] = float(correct) / max(target.numel(), 1)
    return metrics
