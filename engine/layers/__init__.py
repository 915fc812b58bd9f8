"""Every layer type LayerLoom knows, registered once in `REGISTRY`."""
from . import activation, conv, dense, io, merge, norm, pool, recurrent, attention, positional, reshape, axes, index  # noqa: F401, I001
from .registry import CATEGORIES, REGISTRY, InputPort, LayerParams, LayerSpec, Sample, TensorMeta, WeightedParams

__all__ = ["CATEGORIES", "REGISTRY", "InputPort", "LayerParams", "LayerSpec", "Sample", "TensorMeta", "WeightedParams"]
