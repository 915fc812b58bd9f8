"""Optional TensorBoard logging: the event stream's scalars, and gradient histograms at logged steps."""
from __future__ import annotations

from pathlib import Path

from .events import EpochEvent, StepEvent, StepRows
from .setup import TrainingError


def summary_writer_class():
    """torch's SummaryWriter, or a clear error when the tensorboard package is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise TrainingError(
            "TensorBoard logging needs the tensorboard package: pip install 'layerloom[tensorboard]'",
        ) from None
    return SummaryWriter


class TensorBoardLogger:
    """An event callback writing to a TensorBoard log folder (`writer` may be given, for tests)."""

    def __init__(self, log_dir: Path, writer=None):
        self.writer = writer if writer is not None else summary_writer_class()(log_dir=str(log_dir))

    def __call__(self, event) -> None:
        if isinstance(event, StepRows):
            for step in event.events():
                self(step)
        elif isinstance(event, StepEvent):
            self.writer.add_scalar("loss/step", event.loss, event.step)
            self.writer.add_scalar("grad_norm_total/before_clip", event.grad_norm_total, event.step)
            self.writer.add_scalar("grad_norm_total/after_clip", event.grad_norm_clipped, event.step)
            for group, values in (("grad_norm", event.grad_norm), ("weight_norm", event.weight_norm),
                                  ("update_ratio", event.update_ratio)):
                for node, value in values.items():
                    self.writer.add_scalar(f"{group}/{node}", value, event.step)
        elif isinstance(event, EpochEvent):
            for name, value in event.metrics.items():
                self.writer.add_scalar(f"epoch/{name}", value, event.epoch)

    def histograms(self, step: int, monitor) -> None:
        """One histogram of each layer's gradient values (the latest step's: its slice of the flat gradients)."""
        for node, grads in zip(monitor.nodes, monitor.flat.layer_slices(monitor.flat.grads)):
            self.writer.add_histogram(f"gradients/{node}", grads.float().cpu(), step)

    def close(self) -> None:
        self.writer.close()
