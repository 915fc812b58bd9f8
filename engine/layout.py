"""Automatic placement of a document's nodes, shared by the designer and the importer.

A layered (Sugiyama) layout flowing left to right, whose long chains wrap into rows so that the graph fills a
canvas of the given aspect ratio instead of one line; frames are refitted around the nodes they held.
"""
from __future__ import annotations

import math
from typing import Callable

import networkx as nx

from . import layering
from .document import Architecture, Frame, NodeBase

Size = Callable[[NodeBase], tuple[float, float]]
CARD = (160.0, 120.0)       # the size assumed for every node when the caller gives none
GAP = (64.0, 24.0)          # between columns (room for an edge's shape label), and between nodes of one column
ROW_GAP = 48.0              # between wrapped rows: the wrapping edges run there
LANE, LANE_GAP = 12.0, 10.0 # the room a long edge (a residual skip) keeps beside the nodes it passes
MARGIN = 48.0               # around the graph when it is fitted to the canvas
CANVAS = (1600.0, 700.0)    # the canvas the layout is made for, in pixels at zoom 1
MAX_ZOOM = 1.0              # a fitted canvas never zooms in further
FRAME_PAD, FRAME_TITLE = 20.0, 32.0


def auto_layout(arch: Architecture, size: Size | None = None, canvas: tuple[float, float] = CANVAS) -> Architecture:
    """Place every node (top-left corners) to be seen largest on a `canvas` of that many pixels; `size` gives a
    card's width and height."""
    if not arch.nodes:
        return arch
    nodes = {n.id: n for n in reversed(arch.nodes)}
    sizes = {node_id: (size or (lambda _: CARD))(node) for node_id, node in nodes.items()}
    positions = _place(arch, sizes, canvas)
    frames = [_refit(frame, arch.layout.nodes, positions, sizes) for frame in arch.layout.frames]
    inside = {k: v for k, v in arch.layout.nodes.items() if "/" in k}   # positions inside blocks ('<block>/<id>') stay
    return arch.model_copy(update={"layout": arch.layout.model_copy(update={"nodes": inside | positions,
                                                                            "frames": frames})})


def _place(arch: Architecture, sizes: dict[str, tuple[float, float]], canvas: tuple[float, float]) -> dict[str, tuple[float, float]]:
    order: dict[str, int] = {}
    for index, node in enumerate(arch.nodes):
        order.setdefault(node.id, index)
    g = nx.DiGraph(arch.graph())
    if not nx.is_directed_acyclic_graph(g):   # an invalid document still gets a layout: edges follow the document
        g = nx.DiGraph((u, v) if order[u] < order[v] else (v, u) for u, v in g.edges() if u != v)
        g.add_nodes_from(order)
    connected = [v for v in g if g.degree(v)]
    rank = layering.ranks(g.subgraph(connected), order)
    end = max(rank.values(), default=-1) + 1
    for i, v in enumerate(v for v in order if v not in rank):   # lone nodes follow the graph, one per column
        rank[v] = end + i
    layers = layering.build(g, rank, {v: sizes[v][1] for v in order}, LANE, order)
    layering.reduce_crossings(layers)
    layering.place(layers, GAP[1], LANE_GAP)
    return _wrap(layers, sizes, canvas)


def _wrap(layers: layering.Layers, sizes: dict[str, tuple[float, float]],
          canvas: tuple[float, float]) -> dict[str, tuple[float, float]]:
    """Cut the columns into rows: the fewest rows that show the graph largest on the canvas."""
    widths = [max(sizes[v][0] for v in layer if v in sizes) for layer in layers.layers]
    spans = [(min(layers.top[v] for v in layer), max(layers.top[v] + layers.extent[v] for v in layer))
             for layer in layers.layers]
    best = None
    for rows in range(1, len(widths) + 1):
        per_row = math.ceil(len(widths) / rows)
        chunks = [range(start, min(start + per_row, len(widths))) for start in range(0, len(widths), per_row)]
        width = max(sum(widths[c] for c in chunk) + GAP[0] * (len(chunk) - 1) for chunk in chunks)
        heights = [max(spans[c][1] for c in chunk) - min(spans[c][0] for c in chunk) for chunk in chunks]
        height = sum(heights) + ROW_GAP * (len(chunks) - 1)
        scale = min(canvas[0] / (width + 2 * MARGIN), canvas[1] / (height + 2 * MARGIN), MAX_ZOOM)
        if best is not None and scale < best[0] and height * canvas[0] > width * canvas[1]:
            break   # the rows only get taller from here
        if best is None or scale > best[0] + 1e-9:
            best = (scale, chunks, heights)
    _, chunks, heights = best
    positions, y = {}, 0.0
    for chunk, height in zip(chunks, heights):
        x, top = 0.0, min(spans[c][0] for c in chunk)
        for c in chunk:
            for v in layers.layers[c]:
                if v in sizes:
                    positions[v] = (round(x), round(y + layers.top[v] - top))
            x += widths[c] + GAP[0]
        y += height + ROW_GAP
    return positions


def _refit(frame: Frame, before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]],
           sizes: dict[str, tuple[float, float]]) -> Frame:
    """The frame around the new places of the nodes whose centres it held; unchanged if it held none."""
    x, y, w, h = frame.rect
    held = [v for v, (px, py) in before.items() if v in after
            and x <= px + sizes[v][0] / 2 <= x + w and y <= py + sizes[v][1] / 2 <= y + h]
    if not held:
        return frame
    left = min(after[v][0] for v in held) - FRAME_PAD
    top = min(after[v][1] for v in held) - FRAME_TITLE
    right = max(after[v][0] + sizes[v][0] for v in held) + FRAME_PAD
    bottom = max(after[v][1] + sizes[v][1] for v in held) + FRAME_PAD
    return frame.model_copy(update={"rect": (left, top, right - left, bottom - top)})
