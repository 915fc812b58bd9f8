"""The main window, driven like a person would: palette, port drags, inspector, shortcuts, panels."""
from pathlib import Path

import pytest
from PySide6.QtCore import QRect, QSettings, QSize, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialog, QDockWidget, QLabel, QMessageBox

from layerloom import engine
from layerloom.designer import edits
from layerloom.designer.gallery import TemplateGalleryDialog
from layerloom.designer.main_window import FIRST_SIZE, MainWindow, first_size
from layerloom.designer.shortcut_sheet import rows
from layerloom.engine import Edge
from layerloom.engine.document import Layout


@pytest.fixture
def window(qtbot, tmp_path):
    window = MainWindow(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat),
                        recovery_dir=tmp_path / "recovery")
    window.files.ask_save_changes = lambda: QMessageBox.Discard   # pytest-qt closes the window before teardown
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    return window


def add_from_palette(window, name: str) -> str:
    """Double-click the palette entry called `name`; returns the new node's id."""
    tree = window.palette.tree
    item = next(i for i in window.palette.entries() if i.text(0) == name)
    tree.scrollToItem(item)
    where = tree.visualItemRect(item).center()
    QTest.mousePress(tree.viewport(), Qt.LeftButton, Qt.NoModifier, where)   # a double click follows a press
    QTest.mouseDClick(tree.viewport(), Qt.LeftButton, Qt.NoModifier, where)
    (node_id,) = window.document.selection
    return node_id


def connect_ports(window, source: str, target: str) -> None:
    view, scene = window.view, window.scene
    a = view.mapFromScene(scene.port_item(source, "out", True).center())
    b = view.mapFromScene(scene.port_item(target, "in", False).center())
    QTest.mousePress(view.viewport(), Qt.LeftButton, Qt.NoModifier, a)
    QTest.mouseMove(view.viewport(), (a + b) / 2)
    QTest.mouseMove(view.viewport(), b)
    QTest.mouseRelease(view.viewport(), Qt.LeftButton, Qt.NoModifier, b)


def type_param(window, name: str, text: str) -> None:
    """Type into the inspector's editor for param `name` and press Enter."""
    editor = window.inspector.node_view.form.editors[name].editor
    editor.setFocus()
    line = editor.lineEdit() if hasattr(editor, "lineEdit") else editor
    line.selectAll()
    QTest.keyClicks(line, text)
    QTest.keyClick(line, Qt.Key_Return)


def test_build_a_small_cnn_by_hand_then_undo_and_redo_everything(window, qtbot):
    image = add_from_palette(window, "Input")
    type_param(window, "shape", "1, 8, 8")
    conv = add_from_palette(window, "Conv 2D")
    type_param(window, "out_channels", "4")
    relu = add_from_palette(window, "ReLU")
    flat = add_from_palette(window, "Flatten")
    fc = add_from_palette(window, "Linear (dense)")
    type_param(window, "out_features", "10")
    out = add_from_palette(window, "Output")
    window.canvas_actions.fit.trigger()
    chain = [image, conv, relu, flat, fc, out]
    for source, target in zip(chain, chain[1:]):
        connect_ports(window, source, target)
    arch = window.document.arch
    assert [n.type for n in arch.nodes] == ["input", "conv2d", "relu", "flatten", "linear", "output"]
    assert arch.edges == [Edge(source=s, target=t) for s, t in zip(chain, chain[1:])]
    assert arch.node(image).params.shape == [1, 8, 8] and arch.node(conv).params.out_channels == 4
    assert arch.node(fc).params.out_features == 10
    window.document.wait_for_check(60_000)
    assert window.status_text() == "Valid · 1,490 parameters"
    assert window.scene.edges[Edge(source=flat, target=fc)].label == "(144,)"

    built, steps = window.document.arch, window.document.undo_stack.count()
    window.view.setFocus()
    for _ in range(steps):
        QTest.keyClick(window.view, Qt.Key_Z, Qt.ControlModifier)
    assert window.document.arch == engine.Architecture() and not window.scene.nodes
    for _ in range(steps):
        QTest.keyClick(window.view, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert window.document.arch == built and len(window.scene.nodes) == 6


def test_a_refused_connection_is_explained_in_the_status_bar(window):
    arch = engine.Architecture()
    arch, a = edits.add_node(arch, "input", (0, 0))
    arch, b = edits.add_node(arch, "relu", (240, 0))
    arch = edits.connect(arch, Edge(source=a, target=b))
    window.document.reset(arch)
    window.view.fit_to_contents()
    connect_ports(window, b, b)
    assert "cycle" in window.statusBar().currentMessage()
    assert window.document.arch == arch


def test_a_problem_marks_its_node_the_panel_and_the_status_bar(window, qtbot):
    arch = engine.Architecture()
    arch, a = edits.add_node(arch, "input", (0, 0), {"shape": [3]})
    arch, b = edits.add_node(arch, "linear", (240, 0))
    window.document.reset(arch)   # the linear layer's input is not connected
    window.document.wait_for_check(60_000)
    assert window.status_text().endswith("problem") or window.status_text().endswith("problems")
    assert window.scene.nodes[b].problems and not window.scene.nodes[a].problems
    tree = window.problems.tree
    item = next(tree.topLevelItem(i) for i in range(tree.topLevelItemCount()) if tree.topLevelItem(i).text(0) == b)
    QTest.mouseClick(tree.viewport(), Qt.LeftButton, Qt.NoModifier, tree.visualItemRect(item).center())
    assert window.document.selection == {b} and window.scene.nodes[b].isSelected()


def test_title_shows_the_file_and_unsaved_changes(window, tmp_path):
    assert window.windowTitle().startswith("Untitled")
    path = tmp_path / "net.json"
    engine.save(engine.load("templates/mlp_spirals.json"), path)
    assert window.files.open_path(path)
    assert window.windowTitle().startswith("net.json") and not window.isWindowModified()
    window.document.select([window.document.arch.nodes[0].id])
    window.canvas_actions.duplicate.trigger()
    assert window.isWindowModified()


def test_another_panel_can_be_docked(window):
    dock = window.add_dock(QLabel("charts"), Qt.RightDockWidgetArea, "Training")
    assert dock.toggleViewAction() in window._panels_menu.actions()
    assert window.dockWidgetArea(dock) == Qt.RightDockWidgetArea


def test_the_template_gallery_opens_every_template(window, monkeypatch):
    opened = []

    def pick(dialog):
        dialog.list.setCurrentItem(list(dialog.items())[len(opened)])
        opened.append(dialog.selected_path())
        return QDialog.Accepted
    monkeypatch.setattr(TemplateGalleryDialog, "exec", pick)
    files = sorted(p.name for p in Path("templates").glob("*.json") if p.name != "GALLERY.json")
    for _ in files:
        window.files.new_from_template.trigger()
        expected = engine.load(opened[-1])
        assert window.document.path is None and window.document.arch.nodes == expected.nodes
        assert set(window.scene.nodes) == {n.id for n in expected.nodes} and window.document.arch.layout.nodes
        assert len(window.scene.edges) == len(expected.edges)
    assert sorted(p.name for p in opened) == files


def test_closing_with_unsaved_changes_asks_first(window, monkeypatch):
    window.document.apply(edits.add_node(window.document.arch, "relu")[0], "add")
    monkeypatch.setattr(window.files, "ask_save_changes", lambda: QMessageBox.Cancel)
    assert not window.close() and window.isVisible()
    monkeypatch.setattr(window.files, "ask_save_changes", lambda: QMessageBox.Discard)
    assert window.close()


def test_auto_layout_is_one_undo_step(window):
    arch = engine.load("templates/seq2seq_reverse.json")
    window.document.reset(arch.model_copy(update={"layout": Layout(nodes={n.id: (0.0, 0.0) for n in arch.nodes})}))
    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key_L, Qt.ControlModifier)
    layout = window.document.arch.layout.nodes
    assert len(set(layout.values())) == len(arch.nodes) and window.document.undo_stack.count() == 1
    for edge in arch.edges:   # the flow runs left to right, or on to the next row
        (sx, sy), (tx, ty) = layout[edge.source], layout[edge.target]
        assert sx < tx or ty > sy, edge


def test_every_command_has_a_keyboard_shortcut(window):
    listed = {name for _, _, name in rows(window)}
    for command in ("New", "New from Template", "Open", "Save", "Save As", "Undo", "Redo", "Cut", "Copy", "Paste",
                    "Duplicate", "Delete", "Select All", "Add Layer", "Insert Layer on Connection", "Auto Layout",
                    "Zoom In", "Zoom Out", "Fit to View", "Snap to Grid", "Minimap", "Frame Selection"):
        assert command in listed, command


def test_the_panel_layout_is_remembered(window, qtbot, tmp_path):
    window.findChild(QDockWidget, "Inspector").hide()
    window.close()
    again = MainWindow(settings=window.settings, recovery_dir=tmp_path / "recovery")
    qtbot.addWidget(again)
    again.restore_layout()
    again.show()
    assert not again.findChild(QDockWidget, "Inspector").isVisible()
    assert again.findChild(QDockWidget, "Layers").isVisible()


def test_the_first_window_fits_the_screen(window):
    """A 1366x768 laptop screen has less room than the window's usual first size: the window takes what there is
    (less its frame), instead of running off the screen with its status bar and panels."""
    assert first_size(QRect(0, 0, 1366, 738)) == QSize(1350, 690)
    assert first_size(QRect(0, 0, 1920, 1050)) == QSize(*FIRST_SIZE)
    assert window.size() == first_size(window.screen().availableGeometry())


def test_the_canvas_starts_tall_and_training_brings_a_taller_training_panel(window, qtbot):
    window.resize(1600, 1000)
    window.show()
    qtbot.waitExposed(window)
    low = window.findChild(QDockWidget, "Problems").height()
    assert low <= 0.25 * window.height()
    window.show_training()
    qtbot.waitUntil(lambda: window.training_dock.height() >= 2 * low)
    window.resizeDocks([window.training_dock], [600], Qt.Vertical)
    qtbot.wait(20)
    tall = window.training_dock.height()
    window.show_training()
    qtbot.wait(20)
    assert tall > 500 and window.training_dock.height() == tall  # a panel the user made taller stays so
