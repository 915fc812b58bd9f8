"""The layer palette: every registered layer type by category, searchable; drag or double-click one to add it."""
from __future__ import annotations

import json
from html import escape

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from layerloom.engine import Architecture, NodeBase, make_node
from layerloom.engine.builtin_blocks import builtin_blocks
from layerloom.engine.document import BLOCK_CATEGORY, is_instance
from layerloom.engine.layers import REGISTRY

from . import edits
from .canvas import LAYER_MIME, positions
from .canvas.geometry import card_size
from .canvas.placement import free_spot
from .canvas.style import LAYOUT_DX
from .document import DocumentModel
from .layer_search import palette_entries
from .panel_style import category_icon, mute

ENTRY_ROLE = Qt.UserRole + 1          # the entry as {"type": ..., "params": {...}}
SEARCH_ROLE = Qt.UserRole + 2         # lower-case text the search box matches


def display_name(node: NodeBase) -> str:
    """The palette name a node was made from: a preset's ('BiLSTM') when its params match one; a block's name."""
    if is_instance(node):
        return node.type
    spec = node.spec
    matching = (name for name, preset in spec.presets.items()
                if all(getattr(node.params, k) == v for k, v in preset.items()))
    return next(matching, spec.palette_name or spec.type)


def free_position(arch: Architecture, anchor: str | None, node: NodeBase) -> tuple[float, float]:
    """Right of `anchor` (or of the last placed node), at the nearest place where `node`'s card touches no other."""
    placed = positions(arch)
    if anchor not in placed:
        anchor = next(reversed(placed), None)
    if anchor is None:
        return (0.0, 0.0)
    cards = [(*placed[n.id], *card_size(n, arch.spec(n))) for n in arch.nodes]
    return free_spot((placed[anchor][0] + LAYOUT_DX, placed[anchor][1], *card_size(node, arch.spec(node))), cards)


class _LayerTree(QTreeWidget):
    """The tree of entries; dragging an entry carries it as JSON under LAYER_MIME, which the canvas accepts."""

    def mimeTypes(self) -> list[str]:
        return [LAYER_MIME]

    def mimeData(self, items) -> QMimeData:
        data = QMimeData()
        data.setData(LAYER_MIME, json.dumps(items[0].data(0, ENTRY_ROLE)).encode())
        return data


class PaletteWidget(QWidget):
    """Layer types by category; drag one onto the canvas or double-click it to add it."""

    node_added = Signal(str)

    def __init__(self, document: DocumentModel, parent: QWidget | None = None):
        super().__init__(parent)
        self._document = document
        self.search = QLineEdit(placeholderText="Search layers…", clearButtonEnabled=True)
        self.tree = _LayerTree(headerHidden=True, rootIsDecorated=False, indentation=10, uniformRowHeights=True)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QTreeWidget.DragOnly)
        self.tree.setStyleSheet("QTreeWidget { border: none; outline: 0; } QTreeWidget::item { padding: 3px 2px; }")
        self.no_match = mute(QLabel("No layer matches", alignment=Qt.AlignCenter, visible=False, margin=12))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.search)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.no_match)
        self._populate()
        self._blocks: QTreeWidgetItem | None = None
        self._block_names: tuple = ()
        self._on_blocks_changed()
        document.changed.connect(self._on_blocks_changed)
        self.search.textChanged.connect(self._on_search_changed)
        self.search.returnPressed.connect(self._on_search_returned)
        self.tree.itemActivated.connect(self._on_item_activated)

    def _populate(self) -> None:
        headers: dict[str, QTreeWidgetItem] = {}
        bold = QFont(self.font())
        bold.setBold(True)
        for category, name, entry in palette_entries():
            if category not in headers:
                header = headers[category] = QTreeWidgetItem(self.tree, [category])
                header.setFlags(Qt.ItemIsEnabled)
                header.setFont(0, bold)
                header.setIcon(0, category_icon(category))
                header.setExpanded(True)
            spec = REGISTRY[entry["type"]]
            preset = ", ".join(f"{k}={v}" for k, v in entry["params"].items())
            item = QTreeWidgetItem(headers[category], [name])
            item.setData(0, ENTRY_ROLE, entry)
            item.setData(0, SEARCH_ROLE, f"{name} {spec.type} {spec.doc}".lower())
            item.setToolTip(0, f"<b>{name}</b> <i>({spec.type}{', ' + preset if preset else ''})</i><br>{escape(spec.doc)}")
            item.setStatusTip(0, spec.doc)
            item.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable | Qt.ItemIsDragEnabled)

    def _on_blocks_changed(self) -> None:
        """The 'Blocks' section: one entry per block the document defines (drag one in to add an instance)."""
        blocks = self._document.arch.blocks
        builtin = [(name, block.description, True) for name, block in builtin_blocks().items()
                   if name not in blocks and block not in blocks.values()]
        names = tuple((name, block.description, False) for name, block in blocks.items()) + tuple(builtin)
        if names == self._block_names:
            return
        self._block_names = names
        if self._blocks is not None:
            self.tree.invisibleRootItem().removeChild(self._blocks)
        self._blocks = None
        if not names:
            return
        self._blocks = header = QTreeWidgetItem(self.tree, [BLOCK_CATEGORY])
        header.setFlags(Qt.ItemIsEnabled)
        font = QFont(self.font())
        font.setBold(True)
        header.setFont(0, font)
        header.setIcon(0, category_icon(BLOCK_CATEGORY))
        header.setExpanded(True)
        for name, description, shipped in names:
            kind = "built-in block" if shipped else "block"
            item = QTreeWidgetItem(header, [name])
            item.setData(0, ENTRY_ROLE, {"type": name, "params": {}})
            item.setData(0, SEARCH_ROLE, f"{name} {kind} {description}".lower())
            item.setToolTip(0, f"<b>{escape(name)}</b> <i>({kind})</i><br>{escape(description or 'a block of this document')}"
                               "<br>double-click an instance on the canvas to open it")
            item.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable | Qt.ItemIsDragEnabled)
        self._on_search_changed(self.search.text())

    def entries(self) -> list[QTreeWidgetItem]:
        """Every entry item (not the category headers)."""
        root = self.tree.invisibleRootItem()
        return [root.child(i).child(j) for i in range(root.childCount()) for j in range(root.child(i).childCount())]

    def visible_entries(self) -> list[QTreeWidgetItem]:
        return [item for item in self.entries() if not item.isHidden()]

    def add_entry(self, entry: dict) -> str:
        """Add the entry's layer next to the selection, as one undo step, and select it."""
        before = self._document.view
        arch = edits.move_nodes(before, positions(before))  # pins nodes that only had a fallback place
        arch, kind = edits.with_type(arch, entry["type"])
        new = make_node("new", kind, **entry["params"])   # a layer, or an instance of a block
        at = free_position(arch, min(self._document.selection, default=None), new)
        arch, new_id = edits.add_node(arch, kind, at, entry["params"])
        self._document.apply_view(arch, f"add {new_id}")
        self._document.select([new_id])
        self.node_added.emit(new_id)
        return new_id

    def _on_search_changed(self, text: str) -> None:
        words = text.lower().split()
        root = self.tree.invisibleRootItem()
        for i in range(root.childCount()):
            header = root.child(i)
            shown = 0
            for j in range(header.childCount()):
                item = header.child(j)
                item.setHidden(not all(w in item.data(0, SEARCH_ROLE) for w in words))
                shown += not item.isHidden()
            header.setHidden(shown == 0)
        self.no_match.setVisible(not self.visible_entries())

    def _on_search_returned(self) -> None:
        visible = self.visible_entries()
        if visible:
            self.add_entry(visible[0].data(0, ENTRY_ROLE))

    def _on_item_activated(self, item: QTreeWidgetItem) -> None:
        entry = item.data(0, ENTRY_ROLE)
        if entry is not None:
            self.add_entry(entry)
