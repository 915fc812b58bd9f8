"""Compilation of a valid document to a `torch.fx.GraphModule` whose submodules are named after node ids.

`to_fx_graph` writes what shape inference learned into the graph: every fx node's `meta` holds the document node
it stands for (`node`), the shape of its value (`shape`: a TensorMeta, an LSTM state, or a tuple of those for a
layer with several outputs) and, for a layer, the metas arriving at each input port (`inputs`); the output's meta
lists the output nodes (`nodes`). Code generation (the GraphModule, the exported source) reads them from there.
"""
from __future__ import annotations

import operator

import torch
from torch import fx, nn

from .document import Architecture, NodeBase
from .errors import DocumentError
from .layers.init import apply_init
from .namespace import Namespace
from .order import walk
from .shapes import DEFAULT_MAX_PARAMS, ShapeReport
from .validate import check


def compile_model(arch: Architecture, max_params: int = DEFAULT_MAX_PARAMS) -> fx.GraphModule:
    """A trainable module for `arch`: forward takes the input nodes in document order and returns
    the output nodes' values (one tensor, or a tuple in document order). Raises DocumentError."""
    problems, report = check(arch, max_params)
    if problems:
        raise DocumentError(problems)
    graph, root = to_fx_graph(arch, report), nn.Module()
    for fx_node in graph.nodes:
        if fx_node.op == "call_module":
            root.add_module(fx_node.target, _build(fx_node.meta["node"], fx_node.meta["inputs"]))
    module = fx.GraphModule(root, graph, class_name=_class_name(arch.name))
    module.input_names = [n.id for n in arch.nodes if n.type == "input"]
    module.output_names = [n.id for n in arch.nodes if n.type == "output"]
    return module


def to_fx_graph(arch: Architecture, report: ShapeReport) -> fx.Graph:
    """A valid document as an fx graph: a placeholder per input node, a call of the submodule named after each
    layer's id, a getitem per other output port in use, and the output; shapes in each fx node's meta."""
    names = value_names(arch)
    graph = fx.Graph()
    values: dict[tuple[str, str], fx.Node] = {}  # (node id, output port) -> the fx value
    results: dict[str, fx.Node] = {}
    for node, edges in walk(arch):
        sources = {port: [values[(e.source, e.source_port)] for e in port_edges] for port, port_edges in edges.items()}
        if node.type == "input":
            value = values[(node.id, "out")] = graph.placeholder(names[(node.id, "out")])
            value.meta.update(node=node, shape=report.nodes[node.id].shape)
        elif node.type == "output":
            results[node.id] = sources["in"][0]
        else:
            values |= _call(graph, node, sources, names, report.nodes[node.id].outputs)
    ends = [n for n in arch.nodes if n.type == "output"]
    outputs = [results[n.id] for n in ends]
    graph.output(outputs[0] if len(outputs) == 1 else tuple(outputs)).meta["nodes"] = ends
    return graph


def value_names(arch: Architecture) -> dict[tuple[str, str], str]:
    """(node id, port) -> the variable holding that output: the node id for its main output when the id is a
    usable name (ids win over derived names), else a legal variant; `<id>_<port>` for the other ports in use,
    and `<id>_outputs` for the tuple a layer with several outputs returns (port '*')."""
    namespace, names = Namespace(), {}
    for node in arch.nodes:
        if namespace.usable(node.id):
            names[(node.id, "out")] = namespace.take(node.id)
    for node in arch.nodes:
        if (node.id, "out") not in names:
            names[(node.id, "out")] = namespace.create(node.id)
    used = {(e.source, e.source_port) for e in arch.edges}
    for node in arch.nodes:
        if len(node.spec.outputs) > 1:
            names |= {(node.id, port): namespace.create(f"{node.id}_{port}")
                      for port in node.spec.outputs[1:] if (node.id, port) in used}
            names[(node.id, "*")] = namespace.create(f"{node.id}_outputs")
            if (node.id, "out") not in used:
                del names[(node.id, "out")]  # the id stays taken: no other value is named like the node
    return names


def _call(graph: fx.Graph, node: NodeBase, sources: dict[str, list], names: dict, outputs: dict) -> dict:
    """Call the node's submodule; a layer with several outputs returns a tuple, unpacked for the ports in use."""
    ports = node.spec.outputs
    kwargs = {port: values[0] for port, values in sources.items() if port != "in"}
    name = names[(node.id, "out")] if len(ports) == 1 else names[(node.id, "*")]
    call = graph.create_node("call_module", node.id, tuple(sources.get("in", ())), kwargs, name=name)
    inputs = {port: [value.meta["shape"] for value in values] for port, values in sources.items()}
    shape = outputs["out"] if len(ports) == 1 else tuple(outputs[port] for port in ports)
    call.meta.update(node=node, inputs=inputs, shape=shape)
    if len(ports) == 1:
        return {(node.id, "out"): call}
    values = {}
    for index, port in enumerate(ports):
        if (node.id, port) in names:
            value = values[(node.id, port)] = graph.create_node(
                "call_function", operator.getitem, (call, index), name=names[(node.id, port)])
            value.meta.update(node=node, port=port, shape=outputs[port])
    return values


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
