"""Compilation of a valid document to a `torch.fx.GraphModule` whose submodules are named after node ids.

`to_fx_graph` writes what shape inference learned into the graph: every fx node's `meta` holds the document node
it stands for (`node`), the shape of its value (`shape`: a TensorMeta, an LSTM state, or a tuple of those for a
layer with several outputs) and, for a layer, the metas arriving at each input port (`inputs`); the output's meta
lists the output nodes (`nodes`). Code generation (the GraphModule, the exported source) reads them from there.

A block instance is a submodule too: the GraphModule of its body (its class named after the block), or for a
repeat a `Repeat` of one per copy, children 0, 1, ... like nn.Sequential; so state_dict keys read
`stage2.1.conv1.weight` and every forward, the document's and each body's, is generated fx code.
"""
from __future__ import annotations

import operator
from typing import Iterator

import torch
from torch import fx, nn

from .costs.memory import check_available
from .document import Architecture, NodeBase, is_instance
from .errors import DocumentError
from .layers.init import apply_init
from .namespace import Namespace
from .order import walk
from .shapes import DEFAULT_MAX_PARAMS, NodeInfo, ShapeReport
from .validate import check


class Repeat(nn.Sequential):
    """The copies of a repeated block instance, chained output to input."""


def compile_model(arch: Architecture, max_params: int = DEFAULT_MAX_PARAMS) -> fx.GraphModule:
    """A trainable module for `arch`: forward takes the input nodes in document order and returns
    the output nodes' values (one tensor, or a tuple in document order). Raises DocumentError."""
    problems, report = check(arch, max_params)
    if problems:
        raise DocumentError(problems)
    check_available(report.total_params * torch.float32.itemsize,
                    f"the model's {report.total_params:,} parameters")  # before they are allocated
    module = _graph_module(report, class_name(arch.name))
    module.input_names = [n.id for n in arch.nodes if n.type == "input"]
    module.output_names = [n.id for n in arch.nodes if n.type == "output"]
    return module


def _graph_module(report: ShapeReport, name: str) -> fx.GraphModule:
    """The module of one graph (a document, or an instance's body), its submodules built in forward order."""
    graph, root = to_fx_graph(report.arch, report), nn.Module()
    for fx_node in graph.nodes:
        if fx_node.op == "call_module":
            node = fx_node.meta["node"]
            built = _instance(node, report.nodes[node.id]) if is_instance(node) else _build(node, fx_node.meta["inputs"])
            root.add_module(fx_node.target, built)
    return fx.GraphModule(root, graph, class_name=name)


def _instance(node, info: NodeInfo) -> nn.Module:
    bodies = [_graph_module(copy, class_name(node.type)) for copy in info.copies]
    return Repeat(*bodies) if node.repeat > 1 else bodies[0]


def layers(model: nn.Module, prefix: str = "") -> Iterator[tuple[str, nn.Module]]:
    """The layers of a compiled model in forward order, by dotted path: a node id, or inside instances the path
    through them ('stage2.1.conv1')."""
    for name, child in model.named_children():
        if isinstance(child, (fx.GraphModule, Repeat)):
            yield from layers(child, f"{prefix}{name}.")
        else:
            yield prefix + name, child


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
            values |= _call(graph, node, arch.spec(node), sources, names, report.nodes[node.id].outputs)
    ends = [n for n in arch.nodes if n.type == "output"]
    outputs = [results[n.id] for n in ends]
    graph.output(outputs[0] if len(outputs) == 1 else tuple(outputs)).meta["nodes"] = ends
    return graph


def value_names(arch: Architecture) -> dict[tuple[str, str], str]:
    """(node id, port) -> the variable holding that output: the node id for its main (first) output when the id
    is a usable name (ids win over derived names), else a legal variant; `<id>_<port>` for the other ports in
    use, and `<id>_outputs` for the tuple a node with several outputs returns (port '*')."""
    namespace, names = Namespace(), {}
    ports = {n.id: arch.spec(n).outputs or ("out",) for n in arch.nodes}
    for node in arch.nodes:
        if namespace.usable(node.id):
            names[(node.id, ports[node.id][0])] = namespace.take(node.id)
    for node in arch.nodes:
        if (node.id, ports[node.id][0]) not in names:
            names[(node.id, ports[node.id][0])] = namespace.create(node.id)
    used = {(e.source, e.source_port) for e in arch.edges}
    for node in arch.nodes:
        main, *others = ports[node.id]
        if others:
            names |= {(node.id, port): namespace.create(f"{node.id}_{port}") for port in others if (node.id, port) in used}
            names[(node.id, "*")] = namespace.create(f"{node.id}_outputs")
            if (node.id, main) not in used:
                del names[(node.id, main)]  # the id stays taken: no other value is named like the node
    return names


def _call(graph: fx.Graph, node, spec, sources: dict[str, list], names: dict, outputs: dict) -> dict:
    """Call the node's submodule; a layer with several outputs returns a tuple, unpacked for the ports in use.
    A layer takes its `in` values as arguments and its other ports by keyword; an instance takes one argument
    per port, in the order of its block's inputs."""
    ports = spec.outputs
    if is_instance(node):
        args, kwargs = tuple(sources[port.name][0] for port in spec.inputs), {}
    else:
        args, kwargs = tuple(sources.get("in", ())), {port: values[0] for port, values in sources.items() if port != "in"}
    name = names[(node.id, ports[0])] if len(ports) == 1 else names[(node.id, "*")]
    call = graph.create_node("call_module", node.id, args, kwargs, name=name)
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


def class_name(name: str) -> str:
    """A document's or block's name as the class name of its GraphModule."""
    cleaned = "".join(ch if ch.isalnum() else "_" for ch in name).strip("_")
    return cleaned if cleaned.isidentifier() else "Model"
