"""The canvas: items follow the document, and mouse gestures become undoable edits."""
import json

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMenu

from layerloom.designer import edits
from layerloom.designer.actions import CanvasActions
from layerloom.designer.canvas import LAYER_MIME, GraphScene, GraphView
from layerloom.designer.canvas.view import parse_layer_drop
from layerloom.designer.document import DocumentModel
from layerloom.engine.train.diagnosis import NodeHealth
from layerloom.engine import Architecture, Edge


def mlp() -> Architecture:
    arch = Architecture(name="mlp")
    for node_id, layer_type, x, params in [("x", "input", 0, {"shape": [4]}), ("fc1", "linear", 260, {"out_features": 8}),
                                           ("act", "relu", 520, {}), ("fc2", "linear", 780, {"out_features": 3}),
                                           ("y", "output", 1040, {})]:
        arch, _ = edits.add_node(arch, layer_type, (x, 0), params, node_id)
    for source, target in [("x", "fc1"), ("fc1", "act"), ("act", "fc2"), ("fc2", "y")]:
        arch = edits.connect(arch, Edge(source=source, target=target))
    return arch


@pytest.fixture
def canvas(qtbot):
    document = DocumentModel(mlp())
    scene = GraphScene(document)
    view = GraphView(scene)
    actions = CanvasActions(document, view)
    qtbot.addWidget(view)
    view.resize(1000, 500)
    view.show()
    qtbot.waitExposed(view)
    view.fit_to_contents()
    yield document, scene, view, actions
    document.close()


def drag(view: GraphView, start: QPointF, end: QPointF) -> None:
    """Press at `start`, move through the middle to `end` and release (scene coordinates)."""
    a, b = view.mapFromScene(start), view.mapFromScene(end)
    QTest.mousePress(view.viewport(), Qt.LeftButton, Qt.NoModifier, a)
    QTest.mouseMove(view.viewport(), (a + b) / 2)
    QTest.mouseMove(view.viewport(), b)
    QTest.mouseRelease(view.viewport(), Qt.LeftButton, Qt.NoModifier, b)


def test_scene_has_an_item_per_node_and_edge_and_follows_undo(canvas):
    document, scene, _, _ = canvas
    assert set(scene.nodes) == {"x", "fc1", "act", "fc2", "y"} and len(scene.edges) == 4
    kept = scene.nodes["fc1"]
    arch, new_id = edits.add_node(document.arch, "dropout", (100, 200))
    document.apply(arch, "add")
    document.apply(edits.set_params(document.arch, "fc1", {"out_features": 16}), "params")
    assert scene.nodes["fc1"] is kept and ("out features", "16") in kept._params
    assert scene.nodes[new_id].pos() == QPointF(100, 200)
    document.undo_stack.undo()
    document.undo_stack.undo()
    assert new_id not in scene.nodes and ("out features", "8") in kept._params
    document.apply(edits.remove_nodes(document.arch, ["act"]), "delete")
    assert "act" not in scene.nodes and len(scene.edges) == 2


def test_dragging_from_an_output_to_an_input_connects(canvas):
    document, scene, view, _ = canvas
    document.apply(edits.disconnect(document.arch, [Edge(source="fc1", target="act")]), "cut edge")
    drag(view, scene.port_item("fc1", "out", True).center(), scene.port_item("act", "in", False).center())
    assert Edge(source="fc1", target="act") in document.arch.edges
    assert document.undo_stack.undoText() == "Connect"
    assert scene.port_item("act", "in", False).connected


def test_refused_connection_says_why_and_changes_nothing(canvas, qtbot):
    document, scene, view, _ = canvas
    before = document.arch
    with qtbot.waitSignal(scene.message) as blocker:
        drag(view, scene.port_item("fc2", "out", True).center(), scene.port_item("fc1", "in", False).center())
    assert "already connected" in blocker.args[0] or "cycle" in blocker.args[0]
    assert document.arch == before
    arch = edits.disconnect(before, [Edge(source="x", target="fc1")])
    document.apply(arch, "free fc1.in")
    messages = []
    scene.message.connect(messages.append)
    drag(view, scene.port_item("fc2", "out", True).center(), scene.port_item("fc1", "in", False).center())
    assert document.arch == arch and "cycle" in messages[-1]


def test_dropping_a_picked_up_input_disconnects_it(canvas):
    document, scene, view, _ = canvas
    end = scene.port_item("act", "in", False).center() + QPointF(0, 200)
    drag(view, scene.port_item("act", "in", False).center(), end)
    assert Edge(source="fc1", target="act") not in document.arch.edges and len(document.arch.edges) == 3
    document.undo_stack.undo()
    assert len(scene.edges) == 4 and all(item.isVisible() for item in scene.edges.values())


def test_moving_a_node_is_one_snapped_undo_step(canvas):
    document, scene, view, _ = canvas
    item = scene.nodes["act"]
    start = item.sceneBoundingRect().center()
    drag(view, start, start + QPointF(47, 93))
    x, y = document.arch.layout.nodes["act"]
    assert x % 20 == 0 and y % 20 == 0 and (x, y) != (520, 0)
    assert document.undo_stack.count() == 1 and document.undo_stack.undoText() == "Move"
    edge = scene.edges[Edge(source="act", target="fc2")]
    assert edge.source.center() == item.outputs["out"].center()
    document.undo_stack.undo()
    assert item.pos() == QPointF(520, 0)


def test_selection_is_shared_with_the_document(canvas):
    document, scene, view, _ = canvas
    corner = scene.nodes["x"].sceneBoundingRect().topLeft() - QPointF(30, 30)
    drag(view, corner, scene.nodes["fc1"].sceneBoundingRect().bottomRight() + QPointF(10, 10))
    assert document.selection == {"x", "fc1"}
    document.select(["fc2"])
    assert scene.selected_node_ids() == ["fc2"]


def test_shape_error_marks_the_right_node(canvas, qtbot):
    document, scene, _, _ = canvas
    document.wait_for_check()
    assert scene.edges[Edge(source="x", target="fc1")].label == "(4,)"
    assert scene.edges[Edge(source="fc1", target="act")].label == "(8,)"
    arch, conv = edits.insert_on_edge(document.arch, Edge(source="act", target="fc2"), "conv1d")
    with qtbot.waitSignal(document.checked, timeout=30_000):
        document.apply(arch, "insert conv")
    assert scene.nodes[conv].problems and not any(scene.nodes[i].problems for i in ("x", "fc1", "act"))
    assert scene.nodes[conv].problems[0].split(" (")[0] in scene.nodes[conv].toolTip()


def test_delete_key_removes_selected_nodes_and_edges(canvas):
    document, scene, view, _ = canvas
    scene.edges[Edge(source="fc2", target="y")].setSelected(True)
    view.setFocus()
    QTest.keyClick(view, Qt.Key_Delete)
    assert Edge(source="fc2", target="y") not in document.arch.edges and len(document.arch.nodes) == 5
    document.select(["act"])
    QTest.keyClick(view, Qt.Key_Backspace)
    assert "act" not in {n.id for n in document.arch.nodes} and len(document.arch.edges) == 1


def test_copy_paste_and_duplicate_make_unique_ids(canvas):
    document, scene, view, actions = canvas
    document.select(["fc1", "act"])
    actions.copy.trigger()
    actions.paste.trigger()
    pasted = document.selection
    assert len(pasted) == 2 and not pasted & {"fc1", "act"}
    assert len(document.arch.edges) == 5   # the edge between the copied nodes came along
    view.setFocus()
    QTest.keyClick(view, Qt.Key_D, Qt.ControlModifier)
    assert len(document.arch.nodes) == 9 and len({n.id for n in document.arch.nodes}) == 9
    document.select(["y"])
    actions.cut.trigger()
    assert "y" not in scene.nodes
    actions.paste_clipboard(QPointF(400, 400))
    (new_id,) = document.selection
    assert document.arch.layout.nodes[new_id] == (400, 400)


def test_insert_layer_on_an_edge(canvas):
    document, scene, _, actions = canvas
    edge = Edge(source="act", target="fc2")
    new_id = actions.insert_on_edge(edge, {"type": "dropout", "params": {"p": 0.2}})
    assert edge not in document.arch.edges and document.arch.node(new_id).params.p == 0.2
    assert {Edge(source="act", target=new_id), Edge(source=new_id, target="fc2")} <= set(document.arch.edges)
    menu = actions.context_menu(scene.edges[Edge(source="fc1", target="act")], QPointF())
    assert [a.text() for a in menu.actions()] == ["&Insert Layer", "&Disconnect"]
    inline = [a.text() for m in actions.insert_menu(Edge(source="x", target="fc1")).findChildren(QMenu)
              for a in m.actions()]
    assert "Dropout" in inline and "Input" not in inline and "Add (residual)" in inline


def test_drop_from_the_palette_adds_at_the_drop_point(canvas):
    document, scene, view, _ = canvas
    mime = QMimeData()
    mime.setData(LAYER_MIME, json.dumps({"type": "lstm", "params": {"bidirectional": True}}).encode())
    where = QPoint(200, 400)
    view.dropEvent(QDropEvent(QPointF(where), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))
    (new_id,) = document.selection
    assert document.arch.node(new_id).params.bidirectional
    assert scene.nodes[new_id].sceneBoundingRect().contains(view.mapToScene(where))
    assert parse_layer_drop(b'{"type": "relu"}') == ("relu", {})


def test_health_tints_nodes_and_clears(canvas):
    _, scene, _, _ = canvas
    scene.set_node_health({"fc1": NodeHealth("vanishing", 1e-9, "tiny gradients")})
    assert scene.nodes["fc1"].health.level == "vanishing" and "tiny gradients" in scene.nodes["fc1"].toolTip()
    scene.set_node_health({})
    assert all(item.health is None for item in scene.nodes.values())


def test_zoom_is_clamped_and_fit_shows_every_node(canvas):
    _, scene, view, actions = canvas
    for _ in range(30):
        actions.zoom_in.trigger()
    assert view.zoom() == pytest.approx(3.0)
    actions.fit.trigger()
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert all(visible.contains(item.sceneBoundingRect()) for item in scene.nodes.values())
