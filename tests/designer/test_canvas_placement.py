"""New, pasted, duplicated and inserted nodes never land on other cards."""
from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF

from layerloom import engine
from layerloom.engine.inline import flatten
from layerloom.designer.canvas.placement import free_spot, overlaps, push_right
from layerloom.designer.files import laid_out
from layerloom.engine import Edge

from canvas_docs import chain, overlapping


def test_free_spot_is_the_wanted_one_when_free_else_the_nearest_free():
    taken = [(0, 0, 100, 100)]
    assert free_spot((300, 0, 100, 100), taken) == (300, 0)
    spot = free_spot((20, 20, 100, 100), taken)
    assert not overlaps((*spot, 100, 100), taken[0], 20)
    assert abs(spot[0] - 20) + abs(spot[1] - 20) <= 160
    wall = [(0, 0, 100, 100), (0, 120, 100, 400)]   # below is taken far down: the nearest free place is right
    assert free_spot((20, 20, 100, 100), wall) == (120, 20)


def test_push_right_moves_the_flow_and_whatever_it_would_hit():
    cards = {"a": (0, 0, 100, 50), "b": (200, 0, 100, 50), "c": (400, 0, 100, 50), "side": (520, 0, 100, 50)}
    moved = push_right(cards, {"b", "c"}, (200, 0, 100, 50), 200)
    assert moved == {"b": (400, 0), "c": (600, 0), "side": (720, 0)}


def test_inserting_on_an_edge_makes_room_along_the_flow(canvas_of):
    canvas = canvas_of(laid_out(chain(6)))
    before = {i: item.pos() for i, item in canvas.scene.nodes.items()}
    new_id = canvas.actions.insert_on_edge(Edge(source="layer2", target="layer3"), {"type": "dropout", "params": {}})
    assert not overlapping(canvas.scene)
    assert canvas.scene.nodes[new_id].pos() == before["layer3"]          # in the target's place
    assert canvas.scene.nodes["layer3"].x() > before["layer3"].x()       # which moved on along the flow
    assert canvas.scene.nodes["layer1"].pos() == before["layer1"]        # upstream stays
    canvas.document.undo_stack.undo()
    assert new_id not in canvas.scene.nodes and canvas.scene.nodes["layer3"].pos() == before["layer3"]


def test_inserting_in_a_wrapped_template_overlaps_nothing(canvas_of):
    canvas = canvas_of(laid_out(flatten(engine.load("templates/deep_residual.json"))))   # 65 nodes, not 6 blocks
    for edge in [Edge(source="blocks_2_relu", target="blocks_2_linear"), Edge(source="blocks_2_add", target="blocks_3_relu"),
                 Edge(source="blocks_2_add", target="blocks_3_add")]:   # within a row, across rows, along a skip
        canvas.actions.insert_on_edge(edge, {"type": "dropout", "params": {}})
        assert not overlapping(canvas.scene), edge


def test_paste_goes_to_the_mouse_or_the_nearest_free_place(canvas_of):
    canvas = canvas_of(laid_out(chain(4)))
    canvas.document.select(["layer1", "layer2"])
    canvas.actions.copy_selection()
    spot = canvas.view.mapToScene(QPoint(100, canvas.view.viewport().height() - 40))   # empty canvas, in view
    canvas.hover(spot)
    canvas.actions.paste.trigger()
    first = set(canvas.document.selection)
    assert min(canvas.scene.nodes[i].pos().x() for i in first) == spot.x()
    assert min(canvas.scene.nodes[i].pos().y() for i in first) == spot.y()
    canvas.hover(QPointF(-5000, -5000))           # the mouse away from the canvas: next to the originals
    canvas.actions.paste_clipboard()
    assert len(canvas.document.selection - first) == 2 and not overlapping(canvas.scene)
    canvas.actions.paste_clipboard(QPointF(*canvas.scene.nodes["x"].card_rect()[:2]))   # onto a node: beside it
    assert not overlapping(canvas.scene)


def test_duplicate_and_new_nodes_land_clear_of_the_others(canvas_of):
    canvas = canvas_of(laid_out(chain(4)))
    canvas.document.select(["layer2"])
    canvas.actions.duplicate_selection()
    canvas.actions.duplicate_selection()
    x, y, width, height = canvas.scene.nodes["layer1"].card_rect()
    canvas.scene.add_layer("relu", {}, QPointF(x + width / 2, y + 30))   # dropped right on layer1
    assert len(canvas.scene.nodes) == 7 and not overlapping(canvas.scene)
