"""How each layer type reads in plain PyTorch source, as its family module in `engine/layers/` declares it."""
from __future__ import annotations

from typing import Callable

from ..layers import REGISTRY
from ..layers.code import HELPER_NAMES, Construct, Inline, Sample
from ..layers.registry import LayerParams

CODE: dict[str, Callable[[LayerParams, Sample], Construct | Inline]] = {
    layer_type: spec.export for layer_type, spec in REGISTRY.items() if spec.export is not None
}

__all__ = ["CODE", "HELPER_NAMES", "Construct", "Inline"]
