"""LayerLoom's headless engine: documents, validation, shape inference, compilation (no Qt, ever).

    arch = engine.load("templates/cnn_digits.json")
    problems, shapes = engine.check(arch)
    model = engine.compile_model(arch)       # a torch.fx.GraphModule
    print(engine.format_summary(engine.summarize(arch, batch_size=64)))   # MACs and training memory too
"""
from .compiler import compile_model
from .costs import CostReport, NodeCost, TrainingMemory, infer_costs, training_memory
from .document import FORMAT_VERSION, Architecture, Edge, NodeBase, make_node
from .errors import DocumentError, Problem
from .files import dumps, from_dict, load, loads, save
from .layers import REGISTRY, LayerSpec, TensorMeta
from .schema import json_schema
from .shapes import NodeInfo, ShapeReport, format_meta, infer_shapes
from .summary import format_summary, summarize
from .validate import check, validate

__all__ = [
    "FORMAT_VERSION", "REGISTRY", "Architecture", "CostReport", "DocumentError", "Edge", "LayerSpec", "NodeBase",
    "NodeCost", "NodeInfo", "Problem", "ShapeReport", "TensorMeta", "TrainingMemory", "check", "compile_model",
    "dumps", "format_meta", "format_summary", "from_dict", "infer_costs", "infer_shapes", "json_schema", "load",
    "loads", "make_node", "save", "summarize", "training_memory", "validate",
]
