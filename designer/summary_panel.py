"""The summary panel: one row per node (id, type, output shape, parameters, MACs, activation memory at the training
section's batch size) and the totals under it; the heaviest nodes' cost cells are tinted."""
from __future__ import annotations

from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from layerloom.engine import format_meta
from layerloom.engine.costs import batch_size_of, format_bytes, format_macs

from . import theme
from .document import DocumentModel
from .panel_style import category_icon

COLUMNS = ("Node", "Type", "Output shape", "Parameters", "MACs", "Activations")
NUMBERS = (3, 4, 5)     # right-aligned columns
MACS, ACTIVATIONS = 4, 5


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
        self.totals = QLabel(textFormat=Qt.RichText, wordWrap=True)
        self.totals.setContentsMargins(6, 4, 6, 4)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.totals)
        self.heavy: set[tuple[int, str]] = set()   # (column, node id) of the tinted cells
        self._tinted: set[tuple[int, int]] = set()   # (row, column) of the cells drawn tinted
        self._shown: dict[tuple[int, int], tuple[str, str]] = {}   # (row, column) -> (text, node id) on screen
        self._widest = 0
        self.table.itemSelectionChanged.connect(self._on_rows_selected)
        self.table.cellClicked.connect(self._on_row_clicked)
        document.checked.connect(self._on_shapes_changed)
        document.costed.connect(self._on_costs_changed)
        document.selection_changed.connect(self._on_selection_changed)
        theme.notifier.changed.connect(self._on_costs_changed)
        self._on_shapes_changed()
        self._on_costs_changed()

    def _on_shapes_changed(self) -> None:
        """Refresh the rows in place: only cells whose text changed are touched, so big graphs stay fast."""
        nodes, shapes = self._document.view.nodes, self._document.view_shapes   # what the canvas shows
        self.table.blockSignals(True)
        resized = self.table.rowCount() != len(nodes)
        if resized:
            self.table.setRowCount(len(nodes))
            self._shown = {cell: shown for cell, shown in self._shown.items() if cell[0] < len(nodes)}
            self._tinted = {cell for cell in self._tinted if cell[0] < len(nodes)}
        for row, node in enumerate(nodes):
            info = shapes.nodes.get(node.id)
            shape = format_meta(info.shape) if info is not None and info.shape is not None else "—"
            cells = (node.id, node.type, shape, f"{info.params:,}" if info is not None else "—")
            for column, text in enumerate(cells):
                changed = self._set_cell(row, column, text, node.id)
                if column == 1 and changed:   # the type changed: so does the icon in the first cell
                    spec = self._document.view.spec(node)
                    self.table.item(row, 0).setIcon(category_icon(spec.category if spec else "Blocks"))
        if resized:
            self._on_costs_changed()
            self.table.resizeColumnsToContents()
        self.table.blockSignals(False)
        self._on_selection_changed()
        self.totals.setText(self._totals_text())

    def _on_costs_changed(self, *args) -> None:
        """MACs and activation memory at the training section's batch size, the heaviest tinted, and the totals."""
        document = self._document
        view_costs = document.view_costs
        nodes, costs, batch = document.view.nodes, view_costs.nodes, batch_size_of(document.arch)
        self.table.horizontalHeaderItem(ACTIVATIONS).setText(f"Activations (batch {batch:,})")
        heavy = {(MACS, n) for n in view_costs.heaviest("macs")}
        heavy |= {(ACTIVATIONS, n) for n in view_costs.heaviest("activation", batch)}
        self.table.blockSignals(True)
        widest, tinted = 0, set()
        for row, node in enumerate(nodes[:self.table.rowCount()]):
            cost = costs.get(node.id)
            held = cost.activation.at(batch) if cost else 0
            cells = {MACS: f"{cost.macs:,}" if cost else "—",
                     ACTIVATIONS: (format_bytes(held) if held else "") if cost else "—"}
            for column, text in cells.items():
                self._set_cell(row, column, text, node.id)
                widest = max(widest, len(text))
                if (column, node.id) in heavy:
                    tinted.add((row, column))
        self._tint(tinted, restyle=bool(args))
        self.table.blockSignals(False)
        self.heavy = heavy
        if widest != self._widest:   # resizing is a pass over every row: only when the widest number changed
            self._widest = widest
            for column in (MACS, ACTIVATIONS):
                self.table.resizeColumnToContents(column)
        self.totals.setText(self._totals_text())

    def _totals_text(self) -> str:
        document, gap = self._document, "&nbsp;&nbsp;·&nbsp;&nbsp;"
        shapes = document.shapes
        parts = [f"<b>{shapes.total_params:,}</b> parameters", f"<b>{shapes.trainable_params:,}</b> trainable",
                 f"{len(document.arch.nodes)} nodes"]
        if document.memory is not None:
            parts.append(f"<b>{format_macs(document.costs.total_macs)}</b> MACs per sample")
            parts.append(document.memory.describe())
        return gap.join(parts)

    def _tint(self, cells: set[tuple[int, int]], restyle: bool) -> None:
        """Tint and embolden `cells` and no others; only cells that change are touched (all of them when `restyle`:
        the theme changed)."""
        tint = QBrush(QColor(theme.current().tint("accent", 0.3, "base")))
        for row, column in (cells | self._tinted) if restyle else cells ^ self._tinted:
            item, marked = self.table.item(row, column), (row, column) in cells
            item.setBackground(tint if marked else QBrush())
            font = QFont(item.font())
            font.setBold(marked)
            item.setFont(font)
        self._tinted = cells

    def _set_cell(self, row: int, column: int, text: str, node_id: str) -> bool:
        """Show `text` in the cell (of `node_id`'s row); True when it changed. Cells are only looked up when their
        text or node changed: a table lookup per cell would make every check of a big graph slow."""
        if self._shown.get((row, column)) == (text, node_id):
            return False
        self._shown[(row, column)] = (text, node_id)
        item = self.table.item(row, column)
        if item is None:
            item = QTableWidgetItem()
            if column in NUMBERS:
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            self.table.setItem(row, column, item)
        item.setText(text)
        item.setData(Qt.UserRole, node_id)
        return True

    def _on_selection_changed(self) -> None:
        self.table.blockSignals(True)
        selection = QItemSelection()
        for row in range(self.table.rowCount()):
            if self._shown[(row, 0)][1] in self._document.selection:
                selection.select(self.table.model().index(row, 0), self.table.model().index(row, len(COLUMNS) - 1))
        self.table.selectionModel().select(selection, QItemSelectionModel.ClearAndSelect)
        self.table.blockSignals(False)
        self.table.viewport().update()

    def _on_rows_selected(self) -> None:
        rows = {index.row() for index in self.table.selectionModel().selectedRows()}
        self._document.select(self.table.item(row, 0).data(Qt.UserRole) for row in rows)

    def _on_row_clicked(self, row: int) -> None:
        self.node_activated.emit(self.table.item(row, 0).data(Qt.UserRole))
