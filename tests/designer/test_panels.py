"""The palette, problems and summary panels follow the document and edit it through undoable steps."""
import json

import pytest
from PySide6.QtCore import Qt

from layerloom import engine
from layerloom.designer import edits
from layerloom.designer.canvas import LAYER_MIME, positions
from layerloom.designer.canvas.geometry import card_size
from layerloom.designer.canvas.placement import overlaps
from layerloom.designer.canvas.style import LAYOUT_DX
from layerloom.designer.canvas.view import parse_layer_drop
from layerloom.designer.document import DocumentModel
from layerloom.designer.palette import PaletteWidget
from layerloom.designer.problems_panel import ProblemsPanel
from layerloom.designer.summary_panel import SummaryPanel
from layerloom.engine.builtin_blocks import builtin_blocks
from layerloom.engine.layers import REGISTRY

CNN = "templates/cnn_digits.json"


@pytest.fixture
def document(qtbot):
    arch = engine.load(CNN)
    engine.check(arch)  # warms the shape cache, so the background check is quick
    doc = DocumentModel(arch)
    doc.wait_for_check()
    yield doc
    doc.close()


@pytest.fixture
def palette(document, qtbot):
    widget = PaletteWidget(document)
    qtbot.addWidget(widget)
    return widget


def _entries(items):
    return [item.data(0, Qt.UserRole + 1) for item in items]


def test_palette_lists_every_type_and_preset(palette):
    entries = _entries(palette.entries())
    expected = [{"type": t, "params": {}} for t in REGISTRY]
    expected += [{"type": t, "params": p} for t, s in REGISTRY.items() for p in s.presets.values()]
    expected += [{"type": name, "params": {}} for name in builtin_blocks()]   # under Blocks
    key = lambda e: json.dumps(e, sort_keys=True)  # noqa: E731
    assert sorted(map(key, entries)) == sorted(map(key, expected))
    assert {"type": "lstm", "params": {"bidirectional": True}} in entries
    assert all(item.toolTip(0) for item in palette.entries())


@pytest.mark.parametrize("text, present, absent", [
    ("lstm", {"lstm"}, {"conv2d", "relu"}),              # palette name
    ("conv2d", {"conv2d"}, {"conv1d", "lstm"}),          # type
    ("learned upsampling", {"conv_transpose2d"}, {"conv2d"}),  # doc
])
def test_palette_search_matches_name_type_and_doc(palette, text, present, absent):
    palette.search.setText(text)
    shown = {e["type"] for e in _entries(palette.visible_entries())}
    assert present <= shown and not absent & shown


def test_palette_search_without_match_says_so(palette):
    palette.search.setText("no such layer")
    assert palette.visible_entries() == [] and not palette.no_match.isHidden()
    palette.search.clear()
    assert len(palette.visible_entries()) == len(palette.entries())


def test_palette_drag_carries_the_entry_as_json(palette):
    item = next(i for i in palette.entries() if i.text(0) == "BiLSTM")
    data = palette.tree.mimeData([item])
    assert json.loads(bytes(data.data(LAYER_MIME)).decode()) == {"type": "lstm", "params": {"bidirectional": True}}
    assert parse_layer_drop(data.data(LAYER_MIME).data()) == ("lstm", {"bidirectional": True})  # what the canvas reads


def test_palette_double_click_adds_next_to_selection_and_undo_removes(palette, document, qtbot):
    palette.show()
    document.select(["fc"])
    before = document.arch
    item = next(i for i in palette.entries() if i.text(0) == "BiGRU")
    palette.tree.scrollToItem(item)
    rect = palette.tree.visualItemRect(item)
    qtbot.mousePress(palette.tree.viewport(), Qt.LeftButton, pos=rect.center())  # a double click follows a press
    qtbot.mouseDClick(palette.tree.viewport(), Qt.LeftButton, pos=rect.center())
    (new,) = [n for n in document.arch.nodes if n.id not in {m.id for m in before.nodes}]
    assert new.type == "gru" and new.params.bidirectional
    assert document.selection == {new.id}
    fx, fy = positions(before)["fc"]
    x, y = document.arch.layout.nodes[new.id]
    assert x >= fx + LAYOUT_DX and not clashes(document.arch, new.id)   # to the right, on a free spot
    document.undo_stack.undo()
    assert document.arch == before


def test_palette_places_nodes_on_free_slots(palette, document):
    document.reset(engine.Architecture())
    first = palette.add_entry({"type": "input", "params": {"shape": [4]}})
    second = palette.add_entry({"type": "linear", "params": {}})
    document.select([first])
    third = palette.add_entry({"type": "relu", "params": {}})
    layout = document.arch.layout.nodes
    assert layout[first] == (0.0, 0.0) and layout[second] == (LAYOUT_DX, 0.0)
    assert layout[third][0] == LAYOUT_DX and layout[third][1] > 0  # below the linear node, not on it
    assert not clashes(document.arch, third)


def clashes(arch, node_id: str) -> list[str]:
    """The nodes whose cards overlap `node_id`'s."""
    cards = {n.id: (*positions(arch)[n.id], *card_size(n)) for n in arch.nodes}
    return [other for other, card in cards.items() if other != node_id and overlaps(card, cards[node_id])]


@pytest.fixture
def broken(document, qtbot):
    """The CNN fed a 2-D image: conv1 reports a shape error."""
    with qtbot.waitSignal(document.checked, timeout=10_000):
        document.apply(edits.set_params(document.arch, "image", {"shape": [1, 8]}), "flatten input")
    return document


def test_problems_panel_lists_problems_and_clicking_selects(broken, qtbot):
    panel = ProblemsPanel(broken)
    qtbot.addWidget(panel)
    panel.show()
    assert panel.stack.currentWidget() is panel.tree
    rows = [panel.tree.topLevelItem(i) for i in range(panel.tree.topLevelItemCount())]
    assert len(rows) == len(broken.problems) and rows[0].text(0) == "conv1"
    assert "expects input of shape" in rows[0].text(1)
    rect = panel.tree.visualItemRect(rows[0])
    with qtbot.waitSignal(panel.node_activated) as signal:
        qtbot.mouseClick(panel.tree.viewport(), Qt.LeftButton, pos=rect.center())
    assert signal.args == ["conv1"] and broken.selection == {"conv1"}


def test_problems_panel_follows_fixes(broken, qtbot):
    panel = ProblemsPanel(broken)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(broken.checked, timeout=10_000):
        broken.undo_stack.undo()
    assert panel.tree.topLevelItemCount() == 0 and panel.stack.currentWidget() is panel.empty


def test_summary_matches_engine_summarize_and_selects(document, qtbot):
    panel = SummaryPanel(document)
    qtbot.addWidget(panel)
    panel.show()
    summary = engine.summarize(document.arch)
    table = panel.table
    assert table.rowCount() == len(summary["nodes"])
    for row, expected in enumerate(summary["nodes"]):
        assert (table.item(row, 0).text(), table.item(row, 1).text()) == (expected["id"], expected["type"])
        assert table.item(row, 3).text() == f"{expected['params']:,}"
    assert f"{summary['total_params']:,}</b> parameters" in panel.totals.text()
    assert f"{summary['trainable_params']:,}</b> trainable" in panel.totals.text()
    row = [r["id"] for r in summary["nodes"]].index("fc")
    qtbot.mouseClick(table.viewport(), Qt.LeftButton, pos=table.visualItemRect(table.item(row, 2)).center())
    assert document.selection == {"fc"}
    document.select(["conv1", "conv2"])
    assert {table.item(i.row(), 0).text() for i in table.selectionModel().selectedRows()} == {"conv1", "conv2"}


def test_summary_follows_edits(document, qtbot):
    panel = SummaryPanel(document)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(document.checked, timeout=10_000):
        document.apply(edits.set_params(document.arch, "fc", {"out_features": 5}), "fewer classes")
    assert f"{engine.summarize(document.arch)['total_params']:,}</b>" in panel.totals.text()
