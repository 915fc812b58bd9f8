"""Automatic placement of a document's nodes, shared by the designer and the importer."""
from __future__ import annotations

import networkx as nx

from .document import Architecture


def auto_layout(arch: Architecture, dx: float = 240.0, dy: float = 150.0) -> Architecture:
    """Layered layout, left to right, one column per topological generation; the default steps fit the
    designer's node cards and edge labels."""
    graph = arch.graph()
    order = {n.id: i for i, n in enumerate(arch.nodes)}
    try:
        generations = [sorted(g, key=order.__getitem__) for g in nx.topological_generations(graph)]
    except nx.NetworkXUnfeasible:  # cycles: fall back to document order
        generations = [[n.id] for n in arch.nodes]
    layout = {}
    for column, ids in enumerate(generations):
        top = -(len(ids) - 1) * dy / 2
        for row, node_id in enumerate(ids):
            layout[node_id] = (column * dx, top + row * dy)
    return arch.model_copy(update={"layout": layout})
