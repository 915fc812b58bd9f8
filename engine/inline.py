"""Grouping and inlining: nodes made into a block and one instance of it, and an instance replaced by its body.

The designer's Group and Ungroup; `flatten` inlines every instance (remedies work on the flat network). Inlined
nodes are named after the instance, `stage1_conv1`, and for repeat copies `stage2_1_conv1`.
"""
from __future__ import annotations

import networkx as nx

from .blocks import instantiate
from .document import Architecture, BlockDef, BlockNode, Edge, InstanceNode, free_id, is_instance
from .errors import DocumentError
from .layers import REGISTRY


def group(arch: Architecture, ids, name: str = "block") -> tuple[Architecture, str]:
    """The document with the nodes `ids` made into a new block (named `name`, or `name_2`...) and one instance of
    it in their place: each value entering the group becomes an input of the block (`x`, or `x1`, `x2`...), each
    value leaving it an output (`y`, `y1`...). Returns the document and the instance's id. Raises DocumentError
    when the nodes cannot be a block (none, an input or output of the document, or a group that edges leave and
    re-enter)."""
    ids = [n.id for n in arch.nodes if n.id in set(ids)]
    members = [arch.node(i) for i in ids]
    if not members:
        raise DocumentError("select the nodes to group first")
    if any(n.type in ("input", "output") for n in members):
        raise DocumentError("the document's inputs and outputs stay outside a block")
    inside = set(ids)
    outer = nx.DiGraph([("group" if e.source in inside else e.source, "group" if e.target in inside else e.target)
                        for e in arch.edges if not (e.source in inside and e.target in inside)])
    if not nx.is_directed_acyclic_graph(outer):
        raise DocumentError("these nodes cannot be one block: a path leaves them and comes back in")
    entering = list(dict.fromkeys((e.source, e.source_port) for e in arch.edges
                                  if e.target in inside and e.source not in inside))
    leaving = list(dict.fromkeys((e.source, e.source_port) for e in arch.edges
                                 if e.source in inside and e.target not in inside))
    ins = dict(zip(entering, ["x"] if len(entering) == 1 else [f"x{i + 1}" for i in range(len(entering))]))
    outs = dict(zip(leaving, ["y"] if len(leaving) == 1 else [f"y{i + 1}" for i in range(len(leaving))]))
    block = free_id(name, set(arch.blocks) | set(REGISTRY))
    body_edges = [Edge(source=ins.get((e.source, e.source_port), e.source),
                       source_port="out" if (e.source, e.source_port) in ins else e.source_port,
                       target=e.target, target_port=e.target_port) for e in arch.edges if e.target in inside]
    body_edges += [Edge(source=s, source_port=p, target=o) for (s, p), o in outs.items()]
    nodes = ([BlockNode(id=i, type="input") for i in ins.values()] + [written(n) for n in members]
             + [BlockNode(id=o, type="output") for o in outs.values()])
    instance = InstanceNode(id=free_id(block, {n.id for n in arch.nodes if n.id not in inside}), type=block)
    port_in = {v: "in" if len(ins) == 1 else i for v, i in ins.items()}
    port_out = {v: "out" if len(outs) == 1 else o for v, o in outs.items()}
    edges = []
    for e in arch.edges:
        if e.target in inside and e.source not in inside:
            e = e.model_copy(update={"target": instance.id, "target_port": port_in[(e.source, e.source_port)]})
        elif e.source in inside and e.target not in inside:
            e = e.model_copy(update={"source": instance.id, "source_port": port_out[(e.source, e.source_port)]})
        elif e.source in inside:
            continue
        if e not in edges or e.target != instance.id:  # two inner readers of one value: one edge into the instance
            edges.append(e)
    position = arch.nodes.index(members[0])
    rest = [n for n in arch.nodes if n.id not in inside]
    return arch.model_copy(update={
        "blocks": {**arch.blocks, block: BlockDef(nodes=nodes, edges=body_edges)},
        "nodes": rest[:position] + [instance] + rest[position:], "edges": edges,
    }), instance.id


def written(node) -> BlockNode:
    """A node of a document as a node of a block definition."""
    if is_instance(node):
        return BlockNode(id=node.id, type=node.type, params=node.params, repeat=node.repeat)
    return BlockNode(id=node.id, type=node.type, params=node.params.model_dump(mode="json", exclude_defaults=True))


def inline(arch: Architecture, node_id: str) -> Architecture:
    """The document with instance `node_id` inlined, in its place in the node order (its block stays defined).
    Raises DocumentError when the instance's body has problems."""
    node = arch.node(node_id)
    body, problems = instantiate(arch, node)
    if body is None:
        raise DocumentError(problems)
    definition = arch.blocks[node.type]
    ins, outs = definition.input_ids, definition.output_ids
    port_in = (lambda i: "in") if len(ins) == 1 else (lambda i: i)
    port_out = (lambda o: "out") if len(outs) == 1 else (lambda o: o)
    used = {n.id for n in arch.nodes} - {node_id}
    # what arrives at each port of the first copy, (source, source_port); a repeat copy takes the last one's 'out'
    arriving = {e.target_port: (e.source, e.source_port) for e in arch.edges if e.target == node_id}
    nodes, edges = [], []
    for index in range(node.repeat):
        copy = f"{node_id}_{index}_" if node.repeat > 1 else f"{node_id}_"
        names = {}
        for inner in body.nodes:
            if inner.type not in ("input", "output"):
                names[inner.id] = free_id(copy + inner.id, used)
                used.add(names[inner.id])
                nodes.append(inner.model_copy(update={"id": names[inner.id]}))

        def value(source: str, port: str) -> tuple[str, str] | None:
            return arriving.get(port_in(source)) if source in ins else (names[source], port) if source in names else None
        produced = {}
        for edge in body.edges:
            source = value(edge.source, edge.source_port)
            if edge.target in outs:
                produced[port_out(edge.target)] = source
            elif source is not None and edge.target in names:
                edges.append(Edge(source=source[0], source_port=source[1], target=names[edge.target],
                                  target_port=edge.target_port))
        arriving = {"in": produced.get("out")} if node.repeat > 1 else arriving
    position = next(i for i, n in enumerate(arch.nodes) if n.id == node_id)
    outer = []
    for edge in arch.edges:
        if edge.target == node_id:
            continue
        if edge.source == node_id:
            if produced.get(edge.source_port) is None:
                continue
            source, port = produced[edge.source_port]
            edge = edge.model_copy(update={"source": source, "source_port": port})
        outer.append(edge)
    all_nodes = arch.nodes[:position] + nodes + arch.nodes[position + 1:]
    layout = arch.layout.model_copy(update={"nodes": {k: v for k, v in arch.layout.nodes.items() if k != node_id}})
    return arch.model_copy(update={"nodes": all_nodes, "edges": outer + edges, "layout": layout})


def flatten(arch: Architecture) -> Architecture:
    """The same network without blocks: every instance inlined, nested ones too, and no block definitions."""
    while (node := next((n for n in arch.nodes if is_instance(n)), None)) is not None:
        arch = inline(arch, node.id)
    return arch.model_copy(update={"blocks": {}})
