"""Gradient health of a node, as shown by tinting it on the canvas (computed by the dashboard)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Level = Literal["healthy", "vanishing", "exploding", "dead", "saturated", "nonfinite"]


@dataclass(frozen=True)
class NodeHealth:
    """One node's gradient health: a level (drives the tint), its gradient norm and a one-line note."""

    level: Level
    grad_norm: float | None = None
    note: str = ""
