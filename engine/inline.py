"""Inlining: an instance replaced by the nodes of its body, the same network without that level of blocks.

The designer's Ungroup inlines one instance; `flatten` inlines them all (remedies work on the flat network).
Inner nodes are named after the instance, `stage1_conv1`, and for repeat copies `stage2_1_conv1`.
"""
from __future__ import annotations

from .blocks import instantiate
from .document import Architecture, Edge, free_id, is_instance
from .errors import DocumentError


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
