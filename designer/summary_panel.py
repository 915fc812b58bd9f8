"""The summary panel: one row per node (id, type, output shape, parameters) and the totals under it."""
from __future__ import annotations

from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from layerloom.engine import format_meta

from .document import DocumentModel
from .panel_style import category_icon

COLUMNS = ("Node", "Type", "Output shape", "Parameters")
TYPE_ROLE = Qt.UserRole + 1


class SummaryPanel(QWidget):
    """A live table of the document's nodes; selecting rows selects their nodes."""

    node_activated = Signal(str)

    def __init__(self, document: DocumentModel, parent: QWidget | None = None):
        super().__init__(parent)
        self._document = document
        self.table = QTableWidget(0, len(COLUMNS), alternatingRowColors=True, showGrid=False)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.Interactive)   # ResizeToContents is quadratic on big graphs
        header.setSectionResizeMode(2, QHeaderView.Stretch)
        header.setDefaultAlignment(Qt.AlignLeft | Qt.AlignVCenter)
        self.table.setStyleSheet("QTableWidget { border: none; outline: 0; }")
        self.totals = QLabel(textFormat=Qt.RichText)
        self.totals.setContentsMargins(6, 4, 6, 4)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.totals)
        self.table.itemSelectionChanged.connect(self._on_rows_selected)
        self.table.cellClicked.connect(self._on_row_clicked)
        document.checked.connect(self._on_shapes_changed)
        document.selection_changed.connect(self._on_selection_changed)
        self._on_shapes_changed()

    def _on_shapes_changed(self) -> None:
        """Refresh the rows in place: only cells whose text changed are touched, so big graphs stay fast."""
        nodes, shapes = self._document.arch.nodes, self._document.shapes
        self.table.blockSignals(True)
        resized = self.table.rowCount() != len(nodes)
        self.table.setRowCount(len(nodes))
        for row, node in enumerate(nodes):
            info = shapes.nodes.get(node.id)
            shape = format_meta(info.shape) if info is not None and info.shape is not None else "—"
            cells = (node.id, node.type, shape, f"{info.params:,}" if info is not None else "—")
            for column, text in enumerate(cells):
                self._set_cell(row, column, text, node.id)
            first = self.table.item(row, 0)
            if first.data(TYPE_ROLE) != node.type:
                first.setData(TYPE_ROLE, node.type)
                first.setIcon(category_icon(node.spec.category))
        if resized:
            self.table.resizeColumnsToContents()
        self.table.blockSignals(False)
        self._on_selection_changed()
        self.totals.setText(f"<b>{shapes.total_params:,}</b> parameters&nbsp;&nbsp;·&nbsp;&nbsp;"
                            f"<b>{shapes.trainable_params:,}</b> trainable&nbsp;&nbsp;·&nbsp;&nbsp;{len(nodes)} nodes")

    def _set_cell(self, row: int, column: int, text: str, node_id: str) -> None:
        item = self.table.item(row, column)
        if item is None:
            item = QTableWidgetItem()
            if column == 3:
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            self.table.setItem(row, column, item)
        if item.text() != text:
            item.setText(text)
        if item.data(Qt.UserRole) != node_id:
            item.setData(Qt.UserRole, node_id)

    def _on_selection_changed(self) -> None:
        self.table.blockSignals(True)
        selection = QItemSelection()
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).data(Qt.UserRole) in self._document.selection:
                selection.select(self.table.model().index(row, 0), self.table.model().index(row, len(COLUMNS) - 1))
        self.table.selectionModel().select(selection, QItemSelectionModel.ClearAndSelect)
        self.table.blockSignals(False)
        self.table.viewport().update()

    def _on_rows_selected(self) -> None:
        rows = {index.row() for index in self.table.selectionModel().selectedRows()}
        self._document.select(self.table.item(row, 0).data(Qt.UserRole) for row in rows)

    def _on_row_clicked(self, row: int) -> None:
        self.node_activated.emit(self.table.item(row, 0).data(Qt.UserRole))
