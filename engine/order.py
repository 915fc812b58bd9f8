"""The one walk over a document's graph: nodes in dependency order, each with its incoming edges by port.

Shape inference and the compiler both follow it, so they agree on the order (the document's order among the
nodes that are ready) and on which edges reach which port.
"""
from __future__ import annotations

import heapq
from typing import Iterator

from .document import Architecture, Edge, NodeBase


def walk(arch: Architecture) -> Iterator[tuple[NodeBase, dict[str, list[Edge]]]]:
    """(node, target port -> edges arriving there) in a topological order that follows the document.

    The first of duplicated ids stands for them all; edges whose ends are not nodes are ignored; nodes on or
    behind a cycle are left out.
    """
    nodes: dict[str, NodeBase] = {}
    position: dict[str, int] = {}
    for index, node in enumerate(arch.nodes):
        if node.id not in nodes:
            nodes[node.id], position[node.id] = node, index
    incoming: dict[str, dict[str, list[Edge]]] = {node_id: {} for node_id in nodes}
    targets: dict[str, list[str]] = {node_id: [] for node_id in nodes}
    waiting = dict.fromkeys(nodes, 0)  # edges not yet satisfied
    for edge in arch.edges:
        if edge.source in nodes and edge.target in nodes:
            incoming[edge.target].setdefault(edge.target_port, []).append(edge)
            targets[edge.source].append(edge.target)
            waiting[edge.target] += 1
    ready = [position[node_id] for node_id, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    while ready:
        node_id = arch.nodes[heapq.heappop(ready)].id
        yield nodes[node_id], incoming[node_id]
        for target in targets[node_id]:
            waiting[target] -= 1
            if waiting[target] == 0:
                heapq.heappush(ready, position[target])
