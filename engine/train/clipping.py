"""Gradient clipping that shares the per-parameter norms the monitor and the finiteness guard already need."""
from __future__ import annotations

import torch

from .config import GradClip


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

    def after(self, grads: list[torch.Tensor], total: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(norm after clipping, whether clipping changed anything), for a logged step."""
        if self.config is None:
            return total, torch.zeros((), dtype=torch.bool, device=total.device)
        if self.config.max_norm is not None:
            coef = (self.config.max_norm / (total + 1e-6)).clamp(max=1.0)
            return total * coef, coef < 1.0
        clipped_total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
        return clipped_total, clipped_total < total
