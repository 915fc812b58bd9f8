"""Compilation of a valid document to a `torch.fx.GraphModule` whose submodules are named after node ids."""
from __future__ import annotations

import operator

import torch
from torch import fx, nn

from .document import Architecture, NodeBase
from .errors import DocumentError
from .layers.init import apply_init
from .shapes import DEFAULT_MAX_PARAMS, ShapeReport, _acyclic_order, infer_shapes
from .validate import validate


def check(arch: Architecture, max_params: int = DEFAULT_MAX_PARAMS) -> tuple[list, ShapeReport]:
    """Every problem of a document (structure and shapes), and the shape table."""
    report = infer_shapes(arch, max_params)
    return validate(arch) + report.problems, report


def compile_model(arch: Architecture, max_params: int = DEFAULT_MAX_PARAMS) -> fx.GraphModule:
    """A trainable module for `arch`: forward takes the input nodes in document order and returns
    the output nodes' values (one tensor, or a tuple in document order). Raises DocumentError."""
    problems, report = check(arch, max_params)
    if problems:
        raise DocumentError(problems)
    nodes = {n.id: n for n in arch.nodes}
    root, graph = nn.Module(), fx.Graph()
    values: dict[tuple[str, str], fx.Node] = {}  # (node id, output port) -> the fx value
    results: dict[str, fx.Node] = {}
    used_ports = {(e.source, e.source_port) for e in arch.edges}
    incoming: dict[str, list] = {node_id: [] for node_id in nodes}
    for edge in arch.edges:
        incoming[edge.target].append(edge)
    for node_id in _acyclic_order(arch):
        node, edges = nodes[node_id], incoming[node_id]
        if node.type == "input":
            values[(node_id, "out")] = graph.placeholder(node_id)
            continue
        sources = {port.name: [values[(e.source, e.source_port)] for e in edges if e.target_port == port.name]
                   for port in node.spec.inputs}
        if node.type == "output":
            results[node_id] = sources["in"][0]
            continue
        metas: dict[str, list] = {}
        for edge in edges:
            metas.setdefault(edge.target_port, []).append(report.nodes[edge.source].outputs[edge.source_port])
        root.add_module(node_id, _build(node, metas))
        values |= _call(graph, node, sources, used_ports)
    outputs = [results[n.id] for n in arch.nodes if n.type == "output"]
    graph.output(outputs[0] if len(outputs) == 1 else tuple(outputs))
    module = fx.GraphModule(root, graph, class_name=_class_name(arch.name))
    module.input_names = [n.id for n in arch.nodes if n.type == "input"]
    module.output_names = [n.id for n in arch.nodes if n.type == "output"]
    return module


def _call(graph: fx.Graph, node: NodeBase, sources: dict[str, list], used_ports: set) -> dict:
    """Call the node's submodule; a layer with several outputs returns a tuple, unpacked for the ports in use."""
    kwargs = {name: values[0] for name, values in sources.items() if name != "in" and values}
    call = graph.call_module(node.id, tuple(sources.get("in", ())), kwargs)
    if len(node.spec.outputs) == 1:
        return {(node.id, "out"): call}
    return {(node.id, port): graph.create_node("call_function", operator.getitem, (call, index), name=f"{node.id}_{port}")
            for index, port in enumerate(node.spec.outputs) if (node.id, port) in used_ports}


def _build(node: NodeBase, metas: dict[str, list]) -> nn.Module:
    """The real module; when an `init` scheme will overwrite the weights, torch's default init is skipped."""
    params = node.params
    if not (node.spec.initializable and params.init != "default"):
        return node.spec.build(params, metas)
    with torch.device("meta"):
        module = node.spec.build(params, metas)
    return apply_init(module.to_empty(device="cpu"), params)


def _class_name(name: str) -> str:
    cleaned = "".join(ch if ch.isalnum() else "_" for ch in name).strip("_")
    return cleaned if cleaned.isidentifier() else "Model"

