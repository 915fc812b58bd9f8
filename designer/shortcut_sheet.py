"""The F1 sheet: every action of the window that has a shortcut, read from the actions themselves, by menu."""
from __future__ import annotations

import re

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QMainWindow, QMenu, QTreeWidget, QTreeWidgetItem, QVBoxLayout

# What a keyboard has: letters, digits, F1-F12, the named keys below. Qt's standard bindings add keys few
# keyboards have (F14 for Undo, the X11 "Copy" key): those are left out of the sheet.
_NAMED = {"Left", "Right", "Up", "Down", "Del", "Backspace", "Tab", "Esc", "Return", "Enter", "Space", "Home",
          "End", "PgUp", "PgDown", "Ins", "+", "-", "=", "Minus"}
_READABLE = {"Del": "Delete", "Esc": "Escape", "PgUp": "Page Up", "PgDown": "Page Down", "Ins": "Insert"}
GESTURES = [
    ("Mouse", "Wheel", "Zoom about the cursor"),
    ("Mouse", "Middle drag or Space+drag", "Pan"),
    ("Mouse", "Drag on empty canvas", "Select several"),
    ("Mouse", "Double-click on empty canvas", "Add a layer there"),
    ("Mouse", "Double-click a block instance", "Edit its block in place (Escape leaves)"),
    ("Mouse", "Drag from a port", "Connect; let go on empty canvas to add a fitting layer there"),
    ("Mouse", "Drag a frame's title", "Move the frame with its nodes"),
]


def key_text(sequence: QKeySequence) -> str:
    """'Ctrl+Shift+Z' for a sequence a keyboard can type; '' for keys most keyboards lack."""
    text = sequence.toString(QKeySequence.PortableText)
    key = re.split(r"\+(?=.)", text)[-1]
    if not (len(key) == 1 or re.fullmatch(r"F([1-9]|1[0-2])", key) or key in _NAMED):
        return ""
    return text[: len(text) - len(key)] + _READABLE.get(key, key)


def rows(window: QMainWindow) -> list[tuple[str, str, str]]:
    """(section, keys, command) for every action with a shortcut, under its menu's title in menu order, then
    the canvas's own keys, then the mouse gestures. Actions of one name share a row ("Ctrl+K or Tab"); an action
    whose text changes (Undo names what it undoes) gives its name in the `command` property."""
    ordered: list[tuple[str, QAction]] = []
    for menu in window.menuBar().findChildren(QMenu):
        ordered += [(menu.title().replace("&", ""), action) for action in menu.actions()]
    ordered += [("Canvas", action) for action in window.view.actions()]
    ordered += [("Other", action) for action in window.findChildren(QAction)]
    merged: dict[str, tuple[str, list[str]]] = {}
    for section, action in ordered:
        keys = [k for k in (key_text(s) for s in action.shortcuts()) if k]
        name = action.property("command") or action.text().replace("&", "").rstrip("…")
        if keys and name:
            section, listed = merged.setdefault(name, (section, []))
            listed += [k for k in keys if k not in listed]
    return [(section, " or ".join(keys), name) for name, (section, keys) in merged.items()] + GESTURES


class ShortcutSheet(QDialog):
    """The rows in two aligned columns under their section."""

    def __init__(self, window: QMainWindow):
        super().__init__(window)
        self.setWindowTitle("Keyboard shortcuts")
        self.tree = QTreeWidget(columnCount=2, headerLabels=["Keys", "Command"], rootIsDecorated=False)
        sections: dict[str, QTreeWidgetItem] = {}
        listed = rows(window)
        order = list(dict.fromkeys(section for section, _, _ in listed))
        for section, keys, name in sorted(listed, key=lambda row: order.index(row[0])):
            if section not in sections:
                sections[section] = QTreeWidgetItem(self.tree, [section])
                sections[section].setFirstColumnSpanned(True)
                font = sections[section].font(0)
                font.setBold(True)
                sections[section].setFont(0, font)
            QTreeWidgetItem(sections[section], [keys, name])
        self.tree.expandAll()
        self.tree.resizeColumnToContents(0)
        buttons = QDialogButtonBox(QDialogButtonBox.Close, rejected=self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tree)
        layout.addWidget(buttons)
        self.resize(620, 640)
        self.tree.setFocusPolicy(Qt.NoFocus)
