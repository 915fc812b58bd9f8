"""Frames: titled, colored rectangles behind a group of nodes, moved with them, undoable, saved in the layout."""
from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from layerloom import engine
from layerloom.designer.canvas.frame_item import HANDLE, TITLE
from layerloom.designer.files import laid_out

from canvas_docs import chain


def framed(canvas_of):
    canvas = canvas_of(laid_out(chain(4)), 1200, 600)
    canvas.document.select(["layer1", "layer2"])
    QTest.keyClick(canvas.view, Qt.Key_J, Qt.ControlModifier)
    return canvas


def test_ctrl_j_frames_the_selection_and_undo_removes_the_frame(canvas_of):
    canvas = framed(canvas_of)
    (frame,) = canvas.document.arch.layout.frames
    x, y, width, height = frame.rect
    for node_id in ("layer1", "layer2"):
        nx_, ny, w, h = canvas.scene.nodes[node_id].card_rect()
        assert x < nx_ and nx_ + w < x + width and y + TITLE <= ny and ny + h < y + height
    assert len(canvas.scene.frames) == 1 and canvas.scene.frames[0].zValue() < 0   # behind the cards and edges
    canvas.document.undo_stack.undo()
    assert canvas.document.arch.layout.frames == [] and canvas.scene.frames == []


def test_dragging_the_title_moves_the_frame_and_its_nodes_in_one_undo_step(canvas_of):
    canvas = framed(canvas_of)
    before = {i: item.pos() for i, item in canvas.scene.nodes.items()}
    x, y, width, _ = canvas.document.arch.layout.frames[0].rect
    canvas.drag(QPointF(x + width / 2, y + TITLE / 2), QPointF(x + width / 2 + 100, y + TITLE / 2 + 200))
    assert canvas.document.arch.layout.frames[0].rect[:2] == (x + 100, y + 200)
    for node_id in ("layer1", "layer2"):
        assert canvas.scene.nodes[node_id].pos() == before[node_id] + QPointF(100, 200)
    assert canvas.scene.nodes["x"].pos() == before["x"] and canvas.scene.nodes["layer3"].pos() == before["layer3"]
    assert canvas.document.undo_stack.undoText() == "Move frame"
    canvas.document.undo_stack.undo()
    assert canvas.document.arch.layout.frames[0].rect[:2] == (x, y)
    assert canvas.scene.nodes["layer1"].pos() == before["layer1"]


def test_dragging_the_corner_resizes_the_frame(canvas_of):
    canvas = framed(canvas_of)
    x, y, width, height = canvas.document.arch.layout.frames[0].rect
    grip = QPointF(x + width - HANDLE / 2, y + height - HANDLE / 2)
    canvas.drag(grip, grip + QPointF(120, 60))
    assert canvas.document.arch.layout.frames[0].rect == (x, y, width + 120, height + 60)
    assert canvas.document.undo_stack.undoText() == "Resize frame"


def test_frames_are_renamed_recolored_and_saved_in_the_layout(canvas_of, tmp_path):
    canvas = framed(canvas_of)
    frames = canvas.actions.frames
    frames.rename(0, "Encoder")
    frames.recolor(0, "green")
    menu = frames.menu(canvas.scene.frames[0])
    assert [a.text() for a in menu.actions()] == ["&Rename…", "&Color", "&Delete Frame"]
    canvas.document.save(tmp_path / "framed.json")
    loaded = engine.load(tmp_path / "framed.json")
    assert loaded.layout.frames == canvas.document.arch.layout.frames
    assert (loaded.layout.frames[0].title, loaded.layout.frames[0].color) == ("Encoder", "green")
    again = canvas_of(loaded)
    assert again.scene.frames[0].frame.title == "Encoder"
    frames.remove(0)
    assert canvas.document.arch.layout.frames == []


def test_clicks_on_a_frame_body_reach_the_canvas(canvas_of):
    canvas = framed(canvas_of)
    x, y, width, height = canvas.document.arch.layout.frames[0].rect
    inside = QPointF(x + 8, y + height - 8)          # in the frame, beside its nodes
    assert canvas.view.itemAt(canvas.point(inside)) is None
    QTest.mouseDClick(canvas.view.viewport(), Qt.LeftButton, Qt.NoModifier, canvas.point(inside))
    assert canvas.view.quick_add.popup.isVisible()
