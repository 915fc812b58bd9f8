"""Auto layout: layered (Sugiyama) with crossing reduction, wrapped into rows to fill the canvas, frames kept."""
from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from layerloom import engine
from layerloom.engine import Architecture, Edge, make_node
from layerloom.engine.document import Frame, Layout
from layerloom.engine.layering import Layers, crossings
from layerloom.engine.layout import CARD, auto_layout

TEMPLATES = sorted(p for p in (Path(__file__).resolve().parents[2] / "templates").glob("*.json") if p.stem != "GALLERY")


def chain(n: int, skip_every: int = 0) -> Architecture:
    nodes = [make_node("x", "input", shape=[8])] + [make_node(f"h{i}", "relu") for i in range(1, n)]
    edges = [Edge(source=a.id, target=b.id) for a, b in zip(nodes, nodes[1:])]
    if skip_every:
        edges += [Edge(source=nodes[i].id, target=nodes[i + skip_every].id)
                  for i in range(0, n - skip_every, skip_every)]
    return Architecture(nodes=nodes, edges=edges)


def rects(arch: Architecture) -> dict[str, tuple[float, float, float, float]]:
    return {i: (x, y, *CARD) for i, (x, y) in arch.layout.nodes.items()}


def overlapping(boxes) -> list[tuple[str, str]]:
    return [(a, b) for (a, p), (b, q) in itertools.combinations(boxes.items(), 2)
            if p[0] < q[0] + q[2] and q[0] < p[0] + p[2] and p[1] < q[1] + q[3] and q[1] < p[1] + p[3]]


def test_a_long_chain_wraps_into_rows_that_fill_the_canvas():
    arch = auto_layout(chain(40), canvas=(1600, 700))
    ys = sorted({y for _, y in arch.layout.nodes.values()})
    xs = [arch.layout.nodes[f"h{i}"][0] for i in range(1, 40)]
    assert 3 <= len(ys) <= 6                         # rows, not one line of 40 columns
    width = max(xs) + CARD[0]
    height = max(ys) + CARD[1]
    assert 1.5 < width / height < 4                  # about the canvas's 16:7
    assert not overlapping(rects(arch))


def test_a_short_chain_stays_on_one_row():
    arch = auto_layout(chain(5))
    assert len({y for _, y in arch.layout.nodes.values()}) == 1
    xs = [arch.layout.nodes[n.id][0] for n in arch.nodes]
    assert xs == sorted(xs) and len(set(xs)) == 5


def test_crossing_reduction_untangles_swapped_branches():
    a, b = make_node("a", "input", shape=[4]), make_node("b", "input", shape=[4])
    p1, p2, cat = make_node("p1", "relu"), make_node("p2", "relu"), make_node("cat", "concat")
    arch = Architecture(nodes=[a, b, p1, p2, cat], edges=[   # in document order a->p2 and b->p1 cross
        Edge(source="a", target="p2"), Edge(source="b", target="p1"),
        Edge(source="p1", target="cat"), Edge(source="p2", target="cat")])
    laid = auto_layout(arch).layout.nodes
    assert (laid["a"][1] < laid["b"][1]) == (laid["p2"][1] < laid["p1"][1])


def test_crossings_counts_inversions_between_layers():
    layers = Layers(rank={}, layers=[["a", "b"], ["c", "d"]], extent={},
                    succs={"a": ["d"], "b": ["c"], "c": [], "d": []})
    assert crossings(layers) == 1
    layers.layers[1] = ["d", "c"]
    assert crossings(layers) == 0


def test_a_skip_keeps_a_lane_beside_the_nodes_it_skips():
    arch = auto_layout(chain(4, skip_every=3))   # x -> h1 -> h2 -> h3, and x -> h3
    laid = arch.layout.nodes
    assert laid["x"][1] == laid["h1"][1] == laid["h2"][1] == laid["h3"][1]   # the main line stays straight


def test_a_second_input_sits_next_to_its_consumer():
    arch = auto_layout(engine.load("templates/seq2seq_reverse.json"))
    laid = arch.layout.nodes
    assert laid["decoder_input"][0] > laid["source"][0]


def test_lone_nodes_and_cycles_get_places_too():
    arch = chain(3).model_copy(update={"nodes": [*chain(3).nodes, make_node("lone", "relu")]})
    arch = arch.model_copy(update={"edges": [*arch.edges, Edge(source="h2", target="h1")]})   # a cycle
    laid = auto_layout(arch)
    assert set(laid.layout.nodes) == {"x", "h1", "h2", "lone"} and not overlapping(rects(laid))


def test_frames_follow_the_nodes_they_held():
    arch = chain(4)
    arch = arch.model_copy(update={"layout": Layout(
        nodes={n.id: (i * 1000.0, 500.0) for i, n in enumerate(arch.nodes)},
        frames=[Frame(title="head", rect=(1900.0, 450.0, 1400.0, 300.0))])})   # holds h2 and h3
    laid = auto_layout(arch)
    x, y, width, height = laid.layout.frames[0].rect
    for node_id in ("h2", "h3"):
        nx_, ny = laid.layout.nodes[node_id]
        assert x < nx_ and nx_ + CARD[0] < x + width and y < ny and ny + CARD[1] < y + height
    assert not x < laid.layout.nodes["x"][0] < x + width


@pytest.mark.parametrize("size", [500, 2000])
def test_large_graphs_lay_out_quickly(size):
    import time
    arch = chain(size, skip_every=3)
    begin = time.process_time()
    laid = auto_layout(arch)
    assert time.process_time() - begin < 5 and len(laid.layout.nodes) == size
