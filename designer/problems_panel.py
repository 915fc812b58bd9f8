"""The problems panel: every problem of the last check, live; clicking one selects its node."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QStackedWidget, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from layerloom.engine import Problem

from .document import DocumentModel
from . import theme
from .panel_style import badge_icon


class ProblemsPanel(QWidget):
    """Lists document.problems (node, message); emits `node_activated(id)` when one is clicked."""

    node_activated = Signal(str)

    def __init__(self, document: DocumentModel, parent: QWidget | None = None):
        super().__init__(parent)
        self._document = document
        self._icon = badge_icon(theme.hex_of("badge"), "!")
        self.tree = QTreeWidget(rootIsDecorated=False, wordWrap=True, alternatingRowColors=True)
        self.tree.setHeaderLabels(["Node", "Problem"])
        self.tree.setColumnWidth(0, 140)
        self.tree.setStyleSheet("QTreeWidget { border: none; outline: 0; } QTreeWidget::item { padding: 3px 0; }")
        self.empty = theme.set_role(QLabel("<span style='font-size:15px'>✓</span>&nbsp; No problems",
                                           alignment=Qt.AlignCenter), "ok")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.tree)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self.tree.itemClicked.connect(self._on_item_clicked)
        document.checked.connect(self._on_problems_changed)
        self._on_problems_changed()

    def node_of(self, problem: Problem) -> str | None:
        """The node a problem is about: its own, or the target of its edge."""
        edges = self._document.arch.edges
        if problem.node is None and problem.edge is not None and 0 <= problem.edge < len(edges):
            return edges[problem.edge].target
        return problem.node

    def _on_problems_changed(self) -> None:
        self.tree.clear()
        for problem in self._document.problems:
            node = self.node_of(problem)
            where = node or "document"
            message = f"{problem.field}: {problem.message}" if problem.field else problem.message
            item = QTreeWidgetItem(self.tree, [where, message])
            item.setIcon(0, self._icon)
            item.setData(0, Qt.UserRole, node)
            item.setToolTip(1, str(problem))
        self.stack.setCurrentWidget(self.tree if self._document.problems else self.empty)

    def _on_item_clicked(self, item: QTreeWidgetItem) -> None:
        node = item.data(0, Qt.UserRole)
        if node:
            self._document.select([node])
            self.node_activated.emit(node)
