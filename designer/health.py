"""Gradient health of a node, as shown by tinting it on the canvas (computed by the dashboard)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Level = Literal["healthy", "vanishing", "exploding", "dead", "saturated", "nonfinite"]

COLORS: dict[str, str] = {
    "healthy": "#3fae5a",
    "vanishing": "#3b7dd8",
    "exploding": "#d8453b",
    "dead": "#7a7a7a",
    "saturated": "#e0a030",
    "nonfinite": "#8e2bd1",
}


@dataclass(frozen=True)
class NodeHealth:
    """One node's gradient health: a level (drives the tint), its gradient norm and a one-line note."""

    level: Level
    grad_norm: float | None = None
    note: str = ""
