"""Cost model: multiply-accumulates per sample and the memory training needs, counted by torch on fake tensors.

`infer_costs(arch, shapes)` is a pass over the shape table (layer.py measures each layer, graph.py stores each
kept tensor once); `training_memory(costs, batch_size, optimizer)` adds weights, gradients and optimizer state.
"""
from .graph import CostReport, NodeCost, infer_costs
from .layer import Bytes
from .memory import TrainingMemory, batch_size_of, format_bytes, format_macs, machine_memory, training_memory

__all__ = ["Bytes", "CostReport", "NodeCost", "TrainingMemory", "batch_size_of", "format_bytes", "format_macs",
           "infer_costs", "machine_memory", "training_memory"]
