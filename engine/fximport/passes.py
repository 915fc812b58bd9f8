"""Passes over the converted graph: in-place calls that would change a tensor read later, and nodes no output
needs."""
from __future__ import annotations

from typing import Any

from torch import fx

from ..layers.patterns import Unsupported


def check_inplace(root: fx.GraphModule, infos: dict[fx.Node, Any], node: fx.Node) -> None:
    """A call that overwrites its input is refused when anything reads that memory afterwards, through the
    same tensor or another view of it (tensors that share a storage in the example run)."""
    order = {n: index for index, n in enumerate(root.graph.nodes)}
    source = node.all_input_nodes[0]
    storage = getattr(infos.get(source), "storage", None)
    for other in root.graph.nodes:
        if order[other] >= order[node] or getattr(infos.get(other), "storage", None) != storage:
            continue
        reader = next((u for u in other.users if order[u] > order[node]), None)
        if reader is not None:
            what = "a tensor that" if other is source else f"memory it shares with {other.name}, which"
            raise Unsupported(f"works in place on {what} {reader.name} reads afterwards: "
                              "LayerLoom layers never change their input")


def prune(converter) -> set[str]:
    """Drop the nodes no output depends on (a value computed but never returned), with their weights; the ids
    kept."""
    keep = {n.id for n in converter.nodes if n.type == "output"}
    for edge in reversed(converter.edges):  # edges are created in graph order, so one backward sweep suffices
        if edge.target in keep:
            keep.add(edge.source)
    converter.nodes = [n for n in converter.nodes if n.id in keep or n.type == "input"]
    converter.edges = [e for e in converter.edges if e.target in keep]
    converter.weights = {k: v for k, v in converter.weights.items() if k.split(".")[0] in keep}
    return keep
