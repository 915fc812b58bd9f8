"""Gradient clipping on the device, without a host sync (the CPU clips with numpy: recorder.py)."""
from __future__ import annotations

import torch

from ..config import GradClip


class Clipper:
    """Clips in place like torch.nn.utils.clip_grad_norm_ / clip_grad_value_, without a host sync."""

    def __init__(self, config: GradClip | None):
        self.config = config

    def __call__(self, grads: list[torch.Tensor], total: torch.Tensor) -> None:
        """Clip `grads`, whose norm before clipping is `total`."""
        if self.config is None:
            return
        if self.config.max_norm is not None:
            coef = (self.config.max_norm / (total + 1e-6)).clamp(max=1.0)
            torch._foreach_mul_(grads, coef)
        else:
            torch._foreach_clamp_min_(grads, -self.config.value)
            torch._foreach_clamp_max_(grads, self.config.value)

    def after(self, grads: list[torch.Tensor], total: torch.Tensor) -> torch.Tensor:
        """The norm after clipping (`total` when nothing was clipped)."""
        if self.config is None:
            return total
        if self.config.max_norm is not None:
            return total * (self.config.max_norm / (total + 1e-6)).clamp(max=1.0)
        return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
