"""Sugiyama layering of a DAG: ranks, dummy nodes on long edges, barycenter crossing reduction, packed coordinates.

networkx gives the graph and its topological order; the crossing reduction and the coordinate packing (an
isotonic regression by pool-adjacent-violators) are the classic heuristics, kept short.
"""
from __future__ import annotations

from bisect import bisect_right, insort
from dataclasses import dataclass, field

import networkx as nx

SWEEPS = 12                 # barycenter passes (down and up) before the best ordering found is kept
PLACEMENT_PASSES = 8
DUMMY_WEIGHT = 0.001        # real nodes win over the lanes of long edges when both want the same place


@dataclass
class Layers:
    """Ranked, ordered layers; `top` is each node's cross-axis coordinate (dummies included)."""

    rank: dict[str, int]
    layers: list[list[str]]
    extent: dict[str, float]                # cross-axis size of every node, dummies included
    dummies: set[str] = field(default_factory=set)
    preds: dict[str, list[str]] = field(default_factory=dict)
    succs: dict[str, list[str]] = field(default_factory=dict)
    top: dict[str, float] = field(default_factory=dict)


def ranks(g: nx.DiGraph, order: dict[str, int]) -> dict[str, int]:
    """Longest-path ranks, then each node with no more inputs than outputs moves right, next to its first
    consumer, which shortens its edges in total (a decoder's second input sits by the decoder)."""
    rank: dict[str, int] = {}
    topological = list(nx.lexicographical_topological_sort(g, key=order.__getitem__))
    for v in topological:
        rank[v] = max((rank[u] + 1 for u in g.predecessors(v)), default=0)
    for v in reversed(topological):
        if g.out_degree(v) and g.in_degree(v) <= g.out_degree(v):
            rank[v] = min(rank[s] for s in g.successors(v)) - 1
    return rank


def build(g: nx.DiGraph, rank: dict[str, int], extent: dict[str, float], lane: float,
          order: dict[str, int]) -> Layers:
    """Layers with a dummy node per rank crossed by a long edge, in document order to start from."""
    result = Layers(rank=dict(rank), layers=[[] for _ in range(max(rank.values(), default=-1) + 1)],
                    extent=dict(extent), preds={v: [] for v in g}, succs={v: [] for v in g})
    key = dict(order)
    for u, v in g.edges():
        previous = u
        for r in range(rank[u] + 1, rank[v]):
            dummy = f"\0{u}\0{v}\0{r}"
            result.dummies.add(dummy)
            result.rank[dummy], result.extent[dummy] = r, lane
            result.preds[dummy], result.succs[dummy] = [], []
            key[dummy] = order[u] + 0.5
            _link(result, previous, dummy)
            previous = dummy
        _link(result, previous, v)
    for v, r in result.rank.items():
        result.layers[r].append(v)
    for layer in result.layers:
        layer.sort(key=key.__getitem__)
    return result


def _link(layers: Layers, u: str, v: str) -> None:
    layers.succs[u].append(v)
    layers.preds[v].append(u)


def reduce_crossings(layers: Layers) -> int:
    """Reorder every layer by the barycenters of its neighbours, down and up; keeps the best order. Crossings left."""
    best, best_count = [list(layer) for layer in layers.layers], crossings(layers)
    for sweep in range(SWEEPS):
        if best_count == 0:
            break
        down = sweep % 2 == 0
        indices = range(1, len(layers.layers)) if down else range(len(layers.layers) - 2, -1, -1)
        for r in indices:
            neighbours = layers.preds if down else layers.succs
            position = {v: i for i, v in enumerate(layers.layers[r - 1 if down else r + 1])}
            current = {v: i for i, v in enumerate(layers.layers[r])}

            def barycenter(v: str) -> float:
                near = [position[u] for u in neighbours[v]]
                return sum(near) / len(near) if near else current[v]
            layers.layers[r].sort(key=lambda v: (barycenter(v), current[v]))
        count = crossings(layers)
        if count < best_count:
            best, best_count = [list(layer) for layer in layers.layers], count
    layers.layers = best
    return best_count


def crossings(layers: Layers) -> int:
    """Edge crossings between consecutive layers (inversions of the targets' order)."""
    total = 0
    for upper, lower in zip(layers.layers, layers.layers[1:]):
        position = {v: i for i, v in enumerate(lower)}
        seen: list[int] = []
        for u in upper:
            for target in sorted(position[v] for v in layers.succs[u]):
                total += len(seen) - bisect_right(seen, target)
            for target in (position[v] for v in layers.succs[u]):
                insort(seen, target)
    return total


def place(layers: Layers, gap: float, lane_gap: float) -> None:
    """Cross-axis coordinates: each node near the weighted mean of its neighbours, in order, `gap` apart
    (`lane_gap` beside a dummy)."""
    steps: dict[str, float] = {}
    for layer in layers.layers:
        y = 0.0
        for v, after in zip(layer, [*layer[1:], None]):
            lane = v in layers.dummies or after in layers.dummies
            steps[v] = layers.extent[v] + (lane_gap if lane else gap)
            layers.top[v] = y
            y += steps[v]
    weight = {v: DUMMY_WEIGHT if v in layers.dummies else 1.0 for v in layers.rank}
    for sweep in range(PLACEMENT_PASSES):
        down = sweep % 2 == 0
        neighbours = layers.preds if down else layers.succs
        for layer in layers.layers if down else reversed(layers.layers):
            wanted = []
            for v in layer:
                near = neighbours[v]
                total = sum(weight[u] for u in near)
                wanted.append(sum(weight[u] * layers.top[u] for u in near) / total if near else layers.top[v])
            packed = _pack(wanted, [weight[v] for v in layer], [steps[v] for v in layer])
            layers.top.update(zip(layer, packed))


def _pack(wanted: list[float], weights: list[float], steps: list[float]) -> list[float]:
    """Positions closest to `wanted` (weighted least squares) with p[i+1] >= p[i] + steps[i]: pool adjacent violators."""
    offsets = [0.0]
    for step in steps[:-1]:
        offsets.append(offsets[-1] + step)
    blocks: list[list[float]] = []          # [weighted mean, weight, count]
    for want, w, offset in zip(wanted, weights, offsets):
        blocks.append([want - offset, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean, w2, n2 = blocks.pop()
            block = blocks[-1]
            block[0] = (block[0] * block[1] + mean * w2) / (block[1] + w2)
            block[1] += w2
            block[2] += n2
    levels = [mean for mean, _, count in blocks for _ in range(count)]
    return [level + offset for level, offset in zip(levels, offsets)]
