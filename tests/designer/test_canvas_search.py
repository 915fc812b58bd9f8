"""Search at the cursor: Tab, double-click or Ctrl+K open it; Enter places the layer there, wired to the selected
node; a connection dropped on empty canvas offers only the layers that fit its port."""
from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from layerloom.designer import edits
from layerloom.designer.files import laid_out
from layerloom.designer.layer_search import choices, search
from layerloom.engine import Architecture, Edge, make_node


def small() -> Architecture:
    return laid_out(Architecture(nodes=[make_node("x", "input", shape=[8]), make_node("fc", "linear", out_features=4)],
                                 edges=[Edge(source="x", target="fc")]))


def empty_spot(canvas) -> QPointF:
    x, y, width, height = canvas.scene.nodes["fc"].card_rect()
    return QPointF(x + width + 200, y + height / 2)


def test_aliases_and_names_find_layers_best_first():
    offered = choices()
    assert search("fc", offered)[0].name == "Linear (dense)"
    assert search("dense", offered)[0].name == "Linear (dense)"
    assert search("bilstm", offered)[0].name == "BiLSTM"
    assert search("cnv2", offered)[0].name == "Conv 2D"                # letters in order, gaps allowed
    assert search("vanish", offered)[0].name == "Sigmoid"              # what its docs say
    assert search("zzz", offered) == [] and len(search("", offered)) == len(offered)


def test_tab_opens_the_search_at_the_cursor_and_enter_places_the_layer_there_wired(canvas_of, qtbot):
    canvas = canvas_of(small())
    spot = empty_spot(canvas)
    canvas.document.select(["fc"])
    canvas.hover(spot)
    QTest.keyClick(canvas.view, Qt.Key_Tab)
    popup = canvas.view.quick_add.popup
    assert popup.isVisible() and popup.title.text() == "Add after fc"
    QTest.keyClicks(popup.field, "relu")
    assert popup.shown()[0] == "ReLU"
    QTest.keyClick(popup.field, Qt.Key_Return)
    assert not popup.isVisible()
    (new_id,) = canvas.document.selection
    assert canvas.document.arch.node(new_id).type == "relu"
    assert Edge(source="fc", target=new_id) in canvas.document.arch.edges
    assert canvas.scene.nodes[new_id].sceneBoundingRect().contains(spot)
    assert canvas.document.undo_stack.count() == 1   # added and wired in one step


def test_double_click_on_empty_canvas_opens_the_search_there(canvas_of):
    canvas = canvas_of(small())
    spot = empty_spot(canvas)
    QTest.mouseDClick(canvas.view.viewport(), Qt.LeftButton, Qt.NoModifier, canvas.point(spot))
    popup = canvas.view.quick_add.popup
    assert popup.isVisible()
    QTest.keyClicks(popup.field, "dropout")
    QTest.keyClick(popup.field, Qt.Key_Return)
    (new_id,) = canvas.document.selection
    assert canvas.scene.nodes[new_id].sceneBoundingRect().contains(spot)
    assert len(canvas.document.arch.edges) == 1   # nothing was selected: nothing to wire


def test_a_wire_dropped_on_empty_canvas_offers_the_layers_that_fit_and_connects(canvas_of):
    canvas = canvas_of(small())
    canvas.document.apply(edits.disconnect(canvas.document.arch, [Edge(source="x", target="fc")]), "cut")
    canvas.document.wait_for_check()
    spot = empty_spot(canvas)
    canvas.drag(canvas.scene.port_item("x", "out", True).center(), spot)
    popup = canvas.view.quick_add.popup
    assert popup.isVisible() and popup.title.text() == "Connect to x.out"
    offered = popup.shown()
    assert "Linear (dense)" in offered and "ReLU" in offered
    assert "Conv 2D" not in offered and "LSTM" not in offered and "Input" not in offered   # (8,) is a vector
    QTest.keyClicks(popup.field, "fc")
    QTest.keyClick(popup.field, Qt.Key_Return)
    (new_id,) = canvas.document.selection
    assert Edge(source="x", target=new_id) in canvas.document.arch.edges


def test_a_wire_dragged_back_from_an_input_offers_layers_with_an_output(canvas_of):
    canvas = canvas_of(small())
    canvas.document.apply(edits.disconnect(canvas.document.arch, [Edge(source="x", target="fc")]), "cut")
    x, y, _, _ = canvas.scene.nodes["x"].card_rect()
    canvas.drag(canvas.scene.port_item("fc", "in", False).center(), QPointF(x, y + 300))
    popup = canvas.view.quick_add.popup
    assert "Input" in popup.shown() and "Output" not in popup.shown()
    QTest.keyClicks(popup.field, "input")
    QTest.keyClick(popup.field, Qt.Key_Return)
    (new_id,) = canvas.document.selection
    assert Edge(source=new_id, target="fc") in canvas.document.arch.edges
