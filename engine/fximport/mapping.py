"""The table from torch modules, functions and tensor methods to LayerLoom layers, gathered from the patterns
each layer declares in `engine/layers/` (see `layers/patterns.py`), plus the calls that map to no node."""
from __future__ import annotations

from torch import nn

from ..layers import REGISTRY
from ..layers.patterns import Layer, Port, Unsupported, require
from ..layers.recurrent import TORCH_RECURRENT as RECURRENT


def _gather(kind: str) -> dict:
    table: dict = {}
    for spec in REGISTRY.values():
        for key, convert in getattr(spec.imports, kind).items():
            if key in table:
                raise ValueError(f"{key!r} is claimed by two layer types' import patterns")
            table[key] = convert
    return table


def _pass_through(input) -> Layer:
    return Layer(None, {}, (input,))


MODULES = _gather("modules") | {nn.Identity: lambda m: Layer(None)}
SUBCLASSES = _gather("subclasses")
CALLS = _gather("calls")
CHAINS = _gather("chains")
EXPORTED = {t: spec.imports.exported for t, spec in REGISTRY.items() if spec.imports.exported is not None}
FUNCTIONS = _gather("functions")
METHODS = _gather("methods") | {"contiguous": _pass_through}

__all__ = ["CALLS", "CHAINS", "EXPORTED", "FUNCTIONS", "METHODS", "MODULES", "RECURRENT", "SUBCLASSES", "Layer", "Port",
           "Unsupported", "require"]
