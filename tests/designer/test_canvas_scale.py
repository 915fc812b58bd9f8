"""A canvas that scales: templates laid out to be read, simplified cards that still show gradient health,
the minimap, and an empty-canvas hint that goes away."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtTest import QTest

from layerloom import engine
from layerloom.engine.inline import flatten
from layerloom.designer import edits
from layerloom.designer.canvas import style
from layerloom.designer.files import laid_out
from layerloom.designer import theme
from layerloom.engine import Architecture, Edge
from layerloom.engine.train.diagnosis import NodeHealth

from canvas_docs import chain, overlapping

TEMPLATES = sorted(p for p in (Path(__file__).resolve().parents[2] / "templates").glob("*.json") if p.stem != "GALLERY")


def test_every_template_fits_a_1600x700_canvas_at_a_readable_zoom(canvas_of):
    canvas = canvas_of(Architecture(), 1600, 700)
    for path in TEMPLATES:
        canvas.document.reset(laid_out(engine.load(path)))   # how File > Open and the gallery lay a template out
        canvas.view.fit_to_contents()
        assert canvas.view.zoom() >= 0.6, path.stem
        assert not overlapping(canvas.scene), path.stem


def test_auto_layout_of_the_deep_sigmoid_net_reads_at_fit_to_view(canvas_of):
    arch = flatten(engine.load("templates/deep_sigmoid_small_init.json"))   # the 24 layers, as one graph
    canvas = canvas_of(edits.move_nodes(arch, {n.id: (0.0, 0.0) for n in arch.nodes}), 1600, 700)
    canvas.actions.auto_layout.trigger()
    assert canvas.view.zoom() >= 0.6 and not overlapping(canvas.scene)
    rows = {item.y() for item in canvas.scene.nodes.values()}
    assert len(rows) >= 2   # the 24 layers wrap into rows instead of one line


def test_a_200_node_net_shows_where_the_gradient_dies(canvas_of):
    canvas = canvas_of(laid_out(chain(200)), 1600, 900)
    dying = {f"layer{i}" for i in range(1, 100)}
    canvas.scene.set_node_health({node_id: NodeHealth("vanishing" if node_id in dying else "healthy", 1e-3, "")
                                  for node_id in canvas.scene.nodes})
    assert canvas.view.zoom() < style.DETAIL_ZOOM
    image = canvas.view.viewport().grab().toImage()
    for node_id, item in canvas.scene.nodes.items():
        x, y, width, height = item.card_rect()
        seen = image.pixelColor(canvas.point(QPointF(x + width / 2, y + height * 0.85)))
        wanted = theme.color("vanishing" if node_id in dying else "healthy")
        assert max(abs(seen.red() - wanted.red()), abs(seen.green() - wanted.green()),
                   abs(seen.blue() - wanted.blue())) < 40, node_id


def test_zoomed_out_edges_lose_their_shape_labels_and_cards_their_ports(canvas_of):
    canvas = canvas_of(laid_out(chain(3)), 1000, 500)
    edge = canvas.scene.edges[Edge(source="x", target="layer1")]
    label = QPointF(edge._label_rect.left() + 4, edge._label_rect.center().y())   # inside the label, beside its text

    def label_drawn() -> bool:
        color = canvas.view.viewport().grab().toImage().pixelColor(canvas.point(label))
        return color == style.LABEL_BG
    canvas.view.reset_zoom()
    canvas.view.centerOn(label)
    assert label_drawn() and canvas.scene.port_item("x", "out", True).isVisible()
    canvas.view.zoom_by(0.3)
    canvas.view.centerOn(label)
    assert not label_drawn() and not canvas.scene.port_item("x", "out", True).isVisible()


def test_the_minimap_shows_the_hidden_part_and_moves_the_view(canvas_of):
    canvas = canvas_of(laid_out(chain(60)), 1000, 500)
    minimap = canvas.view.minimap
    assert not minimap.isVisible()           # fitted: nothing is out of view
    canvas.view.reset_zoom()
    canvas.view.centerOn(canvas.scene.nodes["x"])
    assert minimap.isVisible()
    before = canvas.view.mapToScene(canvas.view.viewport().rect().center())
    QTest.mouseClick(minimap, Qt.LeftButton, Qt.NoModifier, minimap.rect().bottomRight() - minimap.rect().center() / 4)
    after = canvas.view.mapToScene(canvas.view.viewport().rect().center())
    assert after.x() > before.x() + 500 and after.y() > before.y()
    canvas.actions.minimap.setChecked(False)
    assert not minimap.isVisible()


def test_the_empty_canvas_hint_goes_away_when_a_node_arrives(canvas_of, qtbot):
    canvas = canvas_of(Architecture(), 800, 500)
    view = canvas.view

    def hint_pixels() -> int:   # what the window shows (its backing store), not a fresh rendering
        image = view.screen().grabWindow(view.winId()).toImage()
        return sum(image.pixelColor(x, y).red() > 120 for x in range(200, 600, 4) for y in range(200, 300, 4))
    qtbot.waitUntil(lambda: hint_pixels() > 20)
    corner = view.mapToScene(10, 10)   # the new card lands in a corner, away from the hint's text
    canvas.document.apply(edits.add_node(canvas.document.arch, "relu", (corner.x(), corner.y()))[0], "add")
    qtbot.waitUntil(lambda: hint_pixels() == 0)


def test_skips_and_wrapped_rows_run_around_the_cards(canvas_of):
    canvas = canvas_of(laid_out(flatten(engine.load("templates/deep_residual.json"))), 1600, 700)
    cards = {i: QRectF(*item.card_rect()) for i, item in canvas.scene.nodes.items()}
    rows = sorted({item.y() for item in canvas.scene.nodes.values()})
    skip = canvas.scene.edges[Edge(source="blocks_0_add", target="blocks_1_add")]   # over blocks_1's relu and linear
    wrap = next(item for edge, item in canvas.scene.edges.items()            # from the end of a row to the next
                if canvas.scene.nodes[edge.target].x() < canvas.scene.nodes[edge.source].x())
    assert len(rows) > 1
    for item in (skip, wrap):
        ends = {item.edge.source, item.edge.target}
        path = item.path()
        crossed = {i for i, card in cards.items() if i not in ends
                   for t in range(1, 100) if card.contains(path.pointAtPercent(t / 100))}
        assert not crossed, (item.edge, crossed)
