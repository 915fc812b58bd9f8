"""The keyboard on the canvas: arrows nudge (Shift: further) or pan, Alt+arrows walk the graph, and the usual
Delete, Ctrl+D and Ctrl+A."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from layerloom.designer.canvas import style
from layerloom.designer.files import laid_out
from layerloom.designer.keyboard_moves import FAR
from layerloom.engine import Architecture, Edge, make_node

from canvas_docs import chain


def test_arrows_nudge_the_selection_in_one_undo_step(canvas_of):
    canvas = canvas_of(laid_out(chain(3)))
    start, other = canvas.scene.nodes["layer1"].pos(), canvas.scene.nodes["x"].pos()
    canvas.document.select(["layer1"])
    QTest.keyClick(canvas.view, Qt.Key_Right)
    QTest.keyClick(canvas.view, Qt.Key_Right, Qt.ShiftModifier)
    QTest.keyClick(canvas.view, Qt.Key_Down)
    moved = canvas.scene.nodes["layer1"].pos() - start
    assert (moved.x(), moved.y()) == ((1 + FAR) * style.GRID, style.GRID)
    assert canvas.document.arch.layout.nodes["layer1"] == (start.x() + moved.x(), start.y() + moved.y())
    assert canvas.scene.nodes["x"].pos() == other
    canvas.document.undo_stack.undo()
    assert canvas.scene.nodes["layer1"].pos() == start   # three nudges, one undo


def test_arrows_pan_when_nothing_is_selected(canvas_of):
    canvas = canvas_of(laid_out(chain(3)))
    canvas.view.reset_zoom()
    before = canvas.view.horizontalScrollBar().value()
    positions = {i: item.pos() for i, item in canvas.scene.nodes.items()}
    QTest.keyClick(canvas.view, Qt.Key_Right)
    assert canvas.view.horizontalScrollBar().value() > before
    assert {i: item.pos() for i, item in canvas.scene.nodes.items()} == positions


def test_alt_arrows_walk_along_the_edges_and_within_a_column(canvas_of):
    nodes = [make_node("x", "input", shape=[4]), make_node("a", "relu"), make_node("b", "tanh"),
             make_node("cat", "concat")]
    edges = [Edge(source="x", target="a"), Edge(source="x", target="b"), Edge(source="a", target="cat"),
             Edge(source="b", target="cat")]
    canvas = canvas_of(laid_out(Architecture(nodes=nodes, edges=edges)))
    view, document = canvas.view, canvas.document
    QTest.keyClick(view, Qt.Key_Right, Qt.AltModifier)
    assert document.selection == {"x"}                      # nothing selected: start at the first node
    QTest.keyClick(view, Qt.Key_Right, Qt.AltModifier)
    assert document.selection <= {"a", "b"}
    upper, lower = sorted(["a", "b"], key=lambda i: canvas.scene.nodes[i].y())
    document.select([upper])
    QTest.keyClick(view, Qt.Key_Down, Qt.AltModifier)
    assert document.selection == {lower}                    # its neighbour in the column
    QTest.keyClick(view, Qt.Key_Right, Qt.AltModifier)
    assert document.selection == {"cat"}
    QTest.keyClick(view, Qt.Key_Left, Qt.AltModifier)
    assert document.selection <= {"a", "b"}


def test_delete_duplicate_and_select_all_keys(canvas_of):
    canvas = canvas_of(laid_out(chain(3)))
    view, document = canvas.view, canvas.document
    QTest.keyClick(view, Qt.Key_A, Qt.ControlModifier)
    assert document.selection == {"x", "layer1", "layer2"}
    document.select(["layer2"])
    QTest.keyClick(view, Qt.Key_D, Qt.ControlModifier)
    assert len(document.arch.nodes) == 4
    QTest.keyClick(view, Qt.Key_Delete)
    assert len(document.arch.nodes) == 3
