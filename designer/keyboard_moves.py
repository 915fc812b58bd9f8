"""Moving about the canvas by keyboard: arrows nudge the selected nodes (Shift: further) or pan when nothing is
selected; Alt+arrows move the selection along the edges (right: a successor, left: a predecessor) or within a
column (up, down)."""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence

from . import edits
from .canvas import GraphView, style
from .document import DocumentModel

NUDGE_MERGE_ID = 2       # consecutive nudges are one undo step
FAR = 5                  # Shift+arrow moves this many grid steps
PAN = 80                 # pixels an arrow pans when nothing is selected
DIRECTIONS = {"Left": (-1, 0), "Right": (1, 0), "Up": (0, -1), "Down": (0, 1)}


class KeyboardMoves(QObject):
    """The nudge and walk actions of one canvas; they act only while the canvas has the keyboard focus."""

    def __init__(self, document: DocumentModel, view: GraphView):
        super().__init__(view)
        self.document, self.view, self.scene = document, view, view.graph_scene()
        self.nudges = [self._action(f"Nudge {name}", [name, f"Shift+{name}"], lambda d=step: self.nudge(*d))
                       for name, step in DIRECTIONS.items()]
        self.walks = [self._action(f"Select {label}", [f"Alt+{name}"], lambda d=step: self.walk(*d))
                      for (name, step), label in zip(DIRECTIONS.items(), ("Input Side", "Output Side", "Above", "Below"))]

    def _action(self, text: str, keys: list[str], slot) -> QAction:
        action = QAction(text, self)
        action.setShortcuts([QKeySequence(k) for k in keys])
        action.setShortcutContext(Qt.WidgetShortcut)   # text fields keep their arrow keys
        action.triggered.connect(lambda: slot())
        self.view.addAction(action)
        return action

    def nudge(self, dx: int, dy: int) -> None:
        """Move the selected nodes one grid step (Shift: FAR steps), or pan the canvas when none is selected."""
        steps = FAR if QGuiApplication.keyboardModifiers() & Qt.ShiftModifier else 1
        selected = self.document.selection
        if not selected:
            bars = self.view.horizontalScrollBar(), self.view.verticalScrollBar()
            bars[0].setValue(bars[0].value() + dx * PAN * steps)
            bars[1].setValue(bars[1].value() + dy * PAN * steps)
            return
        moved = {}
        for node_id in selected:
            item = self.scene.nodes[node_id]
            moved[node_id] = (item.x() + dx * style.GRID * steps, item.y() + dy * style.GRID * steps)
        self.document.apply_view(edits.move_nodes(self.document.view, moved), "Nudge", NUDGE_MERGE_ID)

    def walk(self, dx: int, dy: int) -> None:
        """Select the neighbour in that direction: along the edges sideways, within the column up and down."""
        nodes = self.scene.nodes
        if not nodes:
            return
        current = min(self.document.selection, default=None, key=lambda i: (nodes[i].x(), nodes[i].y()))
        if current is None:
            first = self.document.view.nodes[0].id
            return self._select(first)
        here = nodes[current]
        if dx:
            graph = self.document.view.graph()
            near = list(graph.successors(current) if dx > 0 else graph.predecessors(current))
        else:
            near = [i for i, item in nodes.items() if i != current and abs(item.x() - here.x()) < style.NODE_WIDTH
                    and (item.y() - here.y()) * dy > 0]
        if near:
            self._select(min(near, key=lambda i: (abs(nodes[i].y() - here.y()), abs(nodes[i].x() - here.x()))))

    def _select(self, node_id: str) -> None:
        self.document.select([node_id])
        self.view.ensureVisible(self.scene.nodes[node_id], 60, 60)
