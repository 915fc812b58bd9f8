"""Documents and checks shared by the canvas tests."""
from __future__ import annotations

import itertools

from layerloom.engine import Architecture, Edge, make_node


def chain(n: int) -> Architecture:
    """An input and n - 1 linear layers in a line."""
    nodes = [make_node("x", "input", shape=[8])] + [make_node(f"layer{i}", "linear", out_features=8)
                                                    for i in range(1, n)]
    return Architecture(nodes=nodes, edges=[Edge(source=a.id, target=b.id) for a, b in zip(nodes, nodes[1:])])


def overlapping(scene) -> list[tuple[str, str]]:
    """The pairs of cards on the canvas that overlap."""
    cards = {i: item.card_rect() for i, item in scene.nodes.items()}
    return [(a, b) for (a, p), (b, q) in itertools.combinations(cards.items(), 2)
            if p[0] < q[0] + q[2] and q[0] < p[0] + p[2] and p[1] < q[1] + q[3] and q[1] < p[1] + p[3]]
