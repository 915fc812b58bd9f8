"""The canvas in the main window: Ctrl+K search, the F1 sheet, dropped files, and what the README promises
about connections."""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from layerloom import engine
from layerloom.designer import edits
from layerloom.designer.main_window import MainWindow
from layerloom.designer.shortcut_sheet import ShortcutSheet, rows
from layerloom.engine import Edge

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
def window(qtbot, tmp_path):
    window = MainWindow(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat),
                        recovery_dir=tmp_path / "recovery")
    window.files.ask_save_changes = lambda: QMessageBox.Discard
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    return window


def drop_files(widget, *paths: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    at = QPointF(widget.rect().center())
    enter = QDragEnterEvent(at.toPoint(), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(widget, QDropEvent(at, Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))


def test_ctrl_k_opens_the_search_on_the_canvas(window):
    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key_K, Qt.ControlModifier)
    assert window.view.quick_add.popup.isVisible()


def test_the_shortcut_sheet_lists_every_action_with_readable_keys(window):
    listed = rows(window)
    assert ("Training", "F5", "Train") in listed and ("Training", "F6", "Probe") in listed
    assert ("Training", "Shift+F5", "Stop") in listed
    keys = {name: (section, keys) for section, keys, name in listed}
    assert keys["Undo"][0] == "Edit" and keys["Undo"][1].startswith("Ctrl+Z")   # more keys on some platforms
    assert ("Graph", "Ctrl+K or Tab", "Add Layer") in listed
    assert ("View", "Ctrl+Shift+F or F", "Fit to View") in listed
    assert ("Canvas", "Left or Shift+Left", "Nudge Left") in listed
    assert not [keys for _, keys, _ in listed if "F14" in keys or "Undo" in keys or ", " in keys]
    names = {name for _, _, name in listed}
    for action in window.findChildren(type(window.files.save)):
        if action.shortcuts() and action.text():
            assert (action.property("command") or action.text().replace("&", "").rstrip("…")) in names, action.text()
    window.document.apply(edits.add_node(window.document.arch, "relu")[0], "Add relu")
    assert "Undo" in {name for _, _, name in rows(window)}   # not 'Undo Add relu'
    sheet = ShortcutSheet(window)
    edit = next(sheet.tree.topLevelItem(i) for i in range(sheet.tree.topLevelItemCount())
                if sheet.tree.topLevelItem(i).text(0) == "Edit")
    assert sheet.tree.columnCount() == 2 and (edit.child(0).text(0), edit.child(0).text(1)) == (keys["Undo"][1], "Undo")


def test_dropping_a_document_opens_it_after_asking_about_unsaved_changes(window, tmp_path):
    path = tmp_path / "digits.json"
    engine.save(engine.load("templates/cnn_digits.json"), path)
    window.document.apply(edits.add_node(window.document.arch, "relu")[0], "add")
    asked = []
    window.files.ask_save_changes = lambda: asked.append(True) or QMessageBox.Cancel
    drop_files(window.view.viewport(), path)
    assert asked and window.document.path is None          # cancelled: nothing replaced
    window.files.ask_save_changes = lambda: QMessageBox.Discard
    drop_files(window.view.viewport(), path)
    assert window.document.path == path and "conv1" in window.scene.nodes
    drop_files(window, path.with_name("notes.txt"))        # anywhere on the window; anything else is explained
    assert "drop a .json document" in window.statusBar().currentMessage()


def test_dropping_a_python_file_offers_layerloom_import(window, tmp_path, qtbot):
    source = tmp_path / "tiny_model.py"
    source.write_text("import torch.nn as nn\n\n\nclass Tiny(nn.Module):\n    def __init__(self):\n"
                      "        super().__init__()\n        self.fc = nn.Linear(4, 2)\n\n"
                      "    def forward(self, x):\n        return self.fc(x)\n\n\nclass Helper:\n    pass\n")
    drop_files(window.view.viewport(), source)
    offer = window.import_offer
    assert offer.isVisible() and [offer.classes.itemText(i) for i in range(offer.classes.count())] == ["Tiny"]
    assert offer.command.text() == f"layerloom import {source}:Tiny -o {tmp_path / 'tiny_model.json'}"
    offer.run_button.click()
    qtbot.waitUntil(lambda: window.document.path == tmp_path / "tiny_model.json", timeout=60_000)
    assert window.document.arch.node("fc").type == "linear"


def test_the_readme_and_the_canvas_agree_on_connections(window):
    text = " ".join(README.read_text().split())
    assert "one whose shapes do not fit is made and flagged" in text
    assert "a connection that can never work (into a taken single input, or one that makes a cycle) is refused" in text
    window.document.reset(engine.load("templates/mlp_spirals.json"))
    window.document.wait_for_check()
    arch = window.document.arch
    first, second = arch.nodes[1].id, arch.nodes[3].id             # two linear layers: (2,) into 32 features...
    conv = edits.add_node(arch, "conv2d", (0, 400))
    window.document.apply(conv[0], "add conv")
    window.view.fit_to_contents()
    source = window.scene.port_item(first, "out", True).center()
    window.scene.connection_drag.begin(window.scene.port_item(first, "out", True))
    window.scene.connection_drag.finish(window.scene.port_item(conv[1], "in", False).center())
    edge = Edge(source=first, target=conv[1])
    assert edge in window.document.arch.edges                     # a shape mismatch is made...
    window.document.wait_for_check()
    assert window.scene.edges[edge].problems or window.document.problems_for(conv[1])   # ...and flagged
    window.scene.connection_drag.begin(window.scene.port_item(second, "out", True))
    window.scene.connection_drag.finish(window.scene.port_item(first, "in", False).center())
    assert Edge(source=second, target=first) not in window.document.arch.edges   # a cycle is refused
    assert source is not None
