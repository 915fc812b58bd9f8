"""Cost model: multiply-accumulates per sample and the memory training needs, counted by torch on fake tensors.

`infer_costs(arch, shapes)` is a pass over the shape table (layer.py measures each layer, graph.py stores each
kept tensor once); `training_memory(costs, batch_size, optimizer)` adds weights, gradients and optimizer state.
"""
from .graph import CostReport, KeptOutput, NodeCost, explain, infer_costs
from .layer import Bytes
from .memory import TrainingMemory, batch_size_of, document_memory, machine_memory, training_memory
from .units import format_bytes, format_macs

__all__ = [
    "Bytes", "CostReport", "KeptOutput", "NodeCost", "TrainingMemory", "batch_size_of", "document_memory", "explain",
    "format_bytes", "format_macs", "infer_costs", "machine_memory", "training_memory",
]
