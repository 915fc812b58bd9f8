"""Checking a document: every structural problem at once (`validate`), and with its shapes (`check`)."""
from __future__ import annotations

import dataclasses
from collections import Counter

import networkx as nx

from .blocks import definition_problems, node_problems, recursion_problems, scopes, type_problems
from .document import Architecture, Edge, is_valid_id, misread
from .errors import Problem, shown
from .shapes import DEFAULT_MAX_PARAMS, ShapeReport, infer_shapes


def check(arch: Architecture, max_params: int = DEFAULT_MAX_PARAMS) -> tuple[list[Problem], ShapeReport]:
    """Every problem of a document (structure and shapes), and the shape table."""
    problems = validate(arch)
    report = infer_shapes(arch, max_params, known=problems)
    return problems + report.problems, report


def validate(arch: Architecture) -> list[Problem]:
    """Structural problems: ids, edges and ports, cycles, missing inputs, unreachable nodes, unknown types; and for
    each block definition the same of its graph, its params, the `"$name"` it refers to and recursion."""
    problems = graph_problems(arch) + type_problems(arch)
    for name, block in arch.blocks.items():
        problems += definition_problems(name, block)
        body = Architecture.model_construct(nodes=block.nodes, edges=block.edges, blocks=arch.blocks)
        problems += [dataclasses.replace(p, block=name) for p in graph_problems(body)]
    for block, nodes, scope in scopes(arch):
        for node in nodes:
            problems += node_problems(arch, node, block, scope)
    return problems + recursion_problems(arch)


def graph_problems(arch: Architecture) -> list[Problem]:
    """The problems of one graph (a document's, or a block definition's)."""
    problems = _id_problems(arch) + _edge_problems(arch) + _port_problems(arch)
    graph = arch.graph()
    problems += _cycle_problems(graph)
    problems += _reachability_problems(arch, graph)
    return problems


def _id_problems(arch: Architecture) -> list[Problem]:
    problems = []
    counts = Counter(n.id for n in arch.nodes)
    for node_id, count in counts.items():
        if count > 1:
            problems.append(Problem(f"duplicate id: {count} nodes are named '{node_id}'", node=node_id, field="id"))
        if not is_valid_id(node_id):
            normal = misread(node_id)
            problems.append(Problem(
                f"Python reads this id as '{shown(normal, 60)}': write it that way" if normal is not None else
                "id must be a Python identifier, not a keyword nor a name the compiled model uses (such as 'forward')",
                node=node_id, field="id",
            ))
    return problems


def connection_problems(arch: Architecture, edge: Edge) -> list[Problem]:
    """Why `edge` cannot be added to `arch`, or nothing: the rules `validate` applies, for one new edge, and
    no second copy of an edge (which a document may hold into a port of several edges, as y + y, but which a
    canvas would draw hidden behind the first)."""
    specs = {n.id: arch.spec(n) for n in arch.nodes}
    problems = _end_problems(specs, edge)
    if problems:
        return problems
    port = specs[edge.target].input_port(edge.target_port)
    if edge in arch.edges:
        return [Problem("these ports are already connected", node=edge.target)]
    if edge.source == edge.target or nx.has_path(arch.graph(), edge.target, edge.source):
        return [Problem(f"connecting '{edge.source}' to '{edge.target}' would make a cycle", node=edge.target)]
    if not port.multiple and any(e.target == edge.target and e.target_port == port.name for e in arch.edges):
        return [Problem(f"input port '{port.name}' takes one edge and is already connected; disconnect it first",
                        node=edge.target)]
    return []


def _edge_problems(arch: Architecture) -> list[Problem]:
    problems = []
    specs = {n.id: arch.spec(n) for n in arch.nodes}
    seen = set()
    for index, edge in enumerate(arch.edges):
        problems += _end_problems(specs, edge, index)
        spec = specs.get(edge.target)
        target = spec.input_port(edge.target_port) if spec is not None else None
        if edge in seen and not (target is not None and target.multiple):  # y + y: one tensor, twice into add
            problems.append(Problem("duplicate edge", node=edge.target, edge=index))
        seen.add(edge)
    return problems


def _end_problems(specs: dict, edge: Edge, index: int | None = None) -> list[Problem]:
    """An end that is not a node, or a port its node does not have (an instance of an undefined block has none)."""
    problems = []
    for end, port, ports in (
        ("source", edge.source_port, lambda spec: spec.outputs),
        ("target", edge.target_port, lambda spec: tuple(p.name for p in spec.inputs)),
    ):
        node_id = getattr(edge, end)
        if node_id not in specs:
            problems.append(Problem(f"{end} '{node_id}' is not a node", edge=index, field=end))
        elif specs[node_id] is None:
            if index is None:
                problems.append(Problem("is an instance of a block the document does not define", node=node_id))
        elif port not in ports(specs[node_id]):
            allowed = ", ".join(ports(specs[node_id])) or "none"
            problems.append(Problem(
                f"{specs[node_id].type} has no {'output' if end == 'source' else 'input'} port '{port}' "
                f"(ports: {allowed})", node=node_id, edge=index, field=f"{end}_port",
            ))
    return problems


def _port_problems(arch: Architecture) -> list[Problem]:
    incoming = Counter((e.target, e.target_port) for e in arch.edges)
    problems = []
    for node in arch.nodes:
        spec = arch.spec(node)
        for port in spec.inputs if spec else ():
            count = incoming[(node.id, port.name)]
            if not port.multiple and count > 1:
                problems.append(Problem(f"input port '{port.name}' takes one edge, got {count}", node=node.id))
            elif not port.optional and count < port.min_count:
                need = f"at least {port.min_count} inputs" if port.multiple else "an input"
                problems.append(Problem(f"needs {need} on port '{port.name}', got {count}", node=node.id))
    return problems


def _cycle_problems(graph: nx.MultiDiGraph) -> list[Problem]:
    problems = []
    for component in nx.strongly_connected_components(graph):
        first = next(iter(component))
        if len(component) == 1 and not graph.has_edge(first, first):
            continue
        cycle = [u for u, *_ in nx.find_cycle(graph.subgraph(component), source=first)]
        path = " -> ".join(cycle + [cycle[0]])
        problems.append(Problem(f"is in a cycle: {path}", node=min(component)))
    return problems


def _reachability_problems(arch: Architecture, graph: nx.MultiDiGraph) -> list[Problem]:
    inputs = [n.id for n in arch.nodes if n.type == "input"]
    outputs = [n.id for n in arch.nodes if n.type == "output"]
    problems = []
    if not inputs:
        problems.append(Problem("the graph has no input node"))
    if not outputs:
        problems.append(Problem("the graph has no output node"))
        return problems
    feeds_output = set(outputs)
    for out in outputs:
        feeds_output |= nx.ancestors(graph, out)
    for node in arch.nodes:
        if node.id not in feeds_output and node.id in graph:
            problems.append(Problem("is not connected to an output", node=node.id))
            feeds_output.add(node.id)  # report each id once even if duplicated
    return problems
