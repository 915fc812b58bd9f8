"""Blocks: the checks of their definitions as written, and the body of one instance with its params substituted.

A definition is checked once (its name and params, the `"$name"` references, the blocks it uses, recursion);
`validate` also checks its graph like a document's. An instance is checked after substitution, per instance,
by shape inference, which names it by its dotted path (`stage2.1.conv1`).
"""
from __future__ import annotations

import difflib
import re
from typing import Any

import networkx as nx
from pydantic import BaseModel, ValidationError

from .document import Architecture, BlockDef, Node, is_instance, is_python_name, misread
from .errors import Problem, shown, validation_problems
from .layers import REGISTRY

_REFERENCE = re.compile(r"\$([A-Za-z_]\w*)")


def reference(value: Any) -> str | None:
    """The block param a value stands for: 'channels' for "$channels", else None."""
    match = _REFERENCE.fullmatch(value) if isinstance(value, str) else None
    return match.group(1) if match else None


def references(value: Any) -> list[str]:
    """Every block param a param value refers to, inside lists too."""
    if isinstance(value, list):
        return [name for item in value for name in references(item)]
    name = reference(value)
    return [name] if name else []


def substitute(value: Any, values: dict[str, Any]) -> Any:
    """`value` with each "$name" replaced by values[name] (a name without a value stays as written)."""
    if isinstance(value, list):
        return [substitute(item, values) for item in value]
    name = reference(value)
    return values[name] if name in values else value


def scopes(arch: Architecture):
    """(block name or None for the document itself, its nodes, the block params in scope there)."""
    yield None, arch.nodes, None
    for name, block in arch.blocks.items():
        yield name, block.nodes, block.params


def type_problems(arch: Architecture | dict) -> list[Problem]:
    """Nodes whose type is neither a layer type nor a block of the document, with the likeliest meant name; of
    a document, or of the raw data of one that does not validate (so these are reported with its other problems)."""
    if isinstance(arch, Architecture):
        blocks = list(arch.blocks)
        found = [(block, n.id, n.type) for block, nodes, _ in scopes(arch) for n in nodes]
    else:
        blocks, found = _raw_types(arch)
    problems = []
    for block, node_id, node_type in found:
        if isinstance(node_type, str) and node_type not in REGISTRY and node_type not in blocks:
            close = difflib.get_close_matches(node_type, [*REGISTRY, *blocks], n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            problems.append(Problem(f"unknown layer type or block '{node_type}'{hint}", node=str(node_id),
                                    field="type", block=block))
    return problems


def _raw_types(raw: dict) -> tuple[list, list]:
    """The block names and (block, id, type) of every node in raw document data, as far as it has that shape."""
    blocks = raw.get("blocks") if isinstance(raw.get("blocks"), dict) else {}
    graphs = [(None, raw)] + [(name, b) for name, b in blocks.items() if isinstance(b, dict)]
    found = []
    for block, graph in graphs:
        nodes = graph.get("nodes") if isinstance(graph.get("nodes"), list) else []
        found += [(block, n.get("id", f"#{i}"), n.get("type")) for i, n in enumerate(nodes) if isinstance(n, dict)]
    return list(blocks), found


def uses(arch: Architecture) -> nx.DiGraph:
    """Block name -> the blocks its definition has instances of."""
    graph = nx.DiGraph()
    graph.add_nodes_from(arch.blocks)
    for name, block in arch.blocks.items():
        graph.add_edges_from((name, n.type) for n in block.nodes if is_instance(n) and n.type in arch.blocks)
    return graph


def recursion_problems(arch: Architecture) -> list[Problem]:
    """One problem per block that contains itself, directly or through others, naming the cycle."""
    problems = []
    for cycle in nx.simple_cycles(uses(arch)):
        start = cycle.index(min(cycle))  # told from its smallest name, whichever node networkx starts from
        cycle = cycle[start:] + cycle[:start]
        problems.append(Problem(f"contains itself: {' -> '.join([*cycle, cycle[0]])}", block=cycle[0]))
    return sorted(problems, key=lambda p: p.message)


def unusable(arch: Architecture, broken: set[str]) -> frozenset[str]:
    """The `broken` blocks, those in a recursion, and every block that uses one of them."""
    graph = uses(arch)
    bad = set(broken) | {name for component in nx.strongly_connected_components(graph) if len(component) > 1
                         for name in component} | {name for name in graph if graph.has_edge(name, name)}
    return frozenset(bad | {user for name in bad if name in graph for user in nx.ancestors(graph, name)})


def definition_problems(name: str, block: BlockDef) -> list[Problem]:
    """What is wrong with a definition's name, params and input nodes (its graph is checked like a document's)."""
    problems = []
    if name in REGISTRY:
        problems.append(Problem(f"'{name}' is a layer type: name the block otherwise", block=name))
    elif not is_python_name(name):
        problems.append(Problem(_name_problem("a block name", name), block=name))
    problems += [Problem(_name_problem(f"param name '{shown(param, 60)}'", param), block=name, field="params")
                 for param in block.params if not is_python_name(param)]
    problems += [Problem("an input inside a block takes its shape from the edge into each instance: remove its params",
                         block=name, node=n.id, field="params") for n in block.nodes if n.type == "input" and n.params]
    return problems


def _name_problem(what: str, name: str) -> str:
    normal = misread(name)
    if normal is not None:
        return f"Python reads {what} as '{shown(normal, 60)}': write it that way"
    return f"{what} must be a Python identifier and not a keyword"


def node_problems(arch: Architecture, node, block: str | None, scope: dict | None) -> list[Problem]:
    """A node's `"$name"` references (to the params of the block it is in), and for an instance its block params
    and repeat, as written."""
    where = {"node": node.id, "block": block}
    problems = []
    if not isinstance(node.params, dict):  # a layer of the document: its params are validated already
        return problems
    for field, value in [*((f"params.{k}", v) for k, v in node.params.items()), ("repeat", getattr(node, "repeat", 1))]:
        for name in references(value):
            if scope is None:
                problems.append(Problem(f"'${name}' refers to a block param, but this node is not inside a block",
                                        field=field, **where))
            elif name not in scope:
                known = ", ".join(scope) or "none"
                problems.append(Problem(f"'${name}': block '{block}' has no param '{name}' (params: {known})",
                                        field=field, **where))
    if not is_instance(node):
        if getattr(node, "repeat", 1) != 1:
            problems.append(Problem("repeat is for block instances, not layers", field="repeat", **where))
        return problems
    definition = arch.blocks.get(node.type)
    if definition is None:
        return problems
    for param in node.params:
        if param not in definition.params:
            known = ", ".join(definition.params) or "none"
            problems.append(Problem(f"block '{node.type}' has no param '{param}' (params: {known})",
                                    field=f"params.{param}", **where))
    for param, default in definition.params.items():
        if default is None and param not in node.params:
            problems.append(Problem(f"block '{node.type}' needs a value for its param '{param}' (it has no default)",
                                    field="params", **where))
    repeat = node.repeat
    if isinstance(repeat, int) or reference(repeat) is None:
        message = repeat_problem(arch, node.type, repeat)
        if message:
            problems.append(Problem(message, field="repeat", **where))
    return problems


def repeat_problem(arch: Architecture, block: str, repeat: Any) -> str | None:
    """Why `repeat` cannot chain copies of `block`, or None."""
    if not isinstance(repeat, int) or isinstance(repeat, bool):
        return f"must be a whole number or \"$name\", got {repeat!r}"
    if repeat < 1:
        return f"must be at least 1, got {repeat}"
    definition = arch.blocks[block]
    ins, outs = len(definition.input_ids), len(definition.output_ids)
    if repeat > 1 and (ins, outs) != (1, 1):
        return (f"repeat {repeat} chains output to input, which needs a block with one input and one output; "
                f"'{block}' has {ins} input{'s' * (ins != 1)} and {outs} output{'s' * (outs != 1)}")
    return None


class _Body(BaseModel):
    nodes: list[Node]


def instantiate(arch: Architecture, node) -> tuple[Architecture | None, list[Problem]]:
    """The body of an instance: its block's graph with the instance's param values (or the defaults)
    substituted and every node validated, as a document of its own (sharing the blocks); or the problems, with
    the node ids of the body."""
    block = arch.blocks[node.type]
    values = {**block.params, **node.params}
    raws = []
    for inner in block.nodes:
        raw = {"id": inner.id, "type": inner.type, "params": {k: substitute(v, values) for k, v in inner.params.items()}}
        if is_instance(inner):
            raw["repeat"] = substitute(inner.repeat, values)
        raws.append(raw)
    try:
        nodes = _Body.model_validate({"nodes": raws}).nodes
    except ValidationError as error:
        return None, validation_problems(error, {"nodes": raws})
    return Architecture.model_construct(name=node.type, nodes=nodes, edges=block.edges, blocks=arch.blocks), []
