"""Per-step gradient work besides the optimizer: the finiteness check and clipping, both without a host sync
beyond the one number the check reads."""
from __future__ import annotations

import math

import torch

from ..config import GradClip


class FiniteCheck:
    """Whether a step's loss and gradients are all finite: one fused device call and two scalar reads.

    Uses torch's AMP kernel (which multiplies by the scale, here 1); where a backend lacks it, a fused norm."""

    def __init__(self, device: torch.device):
        self.found = torch.zeros(1, device=device)
        self.scale = torch.ones(1, device=device)
        self.fused = True

    def __call__(self, loss: torch.Tensor, grads: list[torch.Tensor]) -> bool:
        if self.fused:
            try:
                torch._amp_foreach_non_finite_check_and_unscale_(grads, self.found, self.scale)
            except (NotImplementedError, RuntimeError):
                self.fused = False
            else:
                if self.found.item():  # the kernel only ever sets the flag, so it is reset only after a hit
                    self.found.zero_()
                    return False
                return math.isfinite(loss.item())
        return math.isfinite((loss + torch.stack(torch._foreach_norm(grads)).sum()).item())


class Clipper:
    """Clips in place like torch.nn.utils.clip_grad_norm_ / clip_grad_value_, without a host sync."""

    def __init__(self, config: GradClip | None):
        self.config = config
        self.needs_total = config is not None and config.max_norm is not None

    def __call__(self, grads: list[torch.Tensor], total: torch.Tensor | None) -> None:
        """Clip `grads`, whose norm before clipping is `total` (needed for max_norm only)."""
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
