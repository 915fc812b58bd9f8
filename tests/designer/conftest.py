"""A canvas (document, scene, view and its actions) around any document, at a chosen size."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QCursor
from PySide6.QtTest import QTest

from layerloom.designer.actions import CanvasActions
from layerloom.designer.canvas import GraphScene, GraphView
from layerloom.designer.document import DocumentModel
from layerloom.engine import Architecture


@dataclass
class Canvas:
    document: DocumentModel
    scene: GraphScene
    view: GraphView
    actions: CanvasActions

    def point(self, scene_point: QPointF) -> QPoint:
        """Where a scene point is on the viewport."""
        return self.view.mapFromScene(scene_point)

    def hover(self, scene_point: QPointF) -> None:
        """Put the mouse over a scene point (for commands that act at the cursor)."""
        QCursor.setPos(self.view.viewport().mapToGlobal(self.point(scene_point)))

    def drag(self, start: QPointF, end: QPointF, modifier=Qt.NoModifier) -> None:
        a, b = self.point(start), self.point(end)
        viewport = self.view.viewport()
        QTest.mousePress(viewport, Qt.LeftButton, modifier, a)
        QTest.mouseMove(viewport, (a + b) / 2)
        QTest.mouseMove(viewport, b)
        QTest.mouseRelease(viewport, Qt.LeftButton, modifier, b)


@pytest.fixture
def canvas_of(qtbot):
    """canvas_of(arch, width, height): a shown, checked canvas on `arch`."""
    made: list[Canvas] = []

    def make(arch: Architecture, width: int = 1000, height: int = 500) -> Canvas:
        document = DocumentModel(arch)
        view = GraphView(GraphScene(document))
        actions = CanvasActions(document, view)
        qtbot.addWidget(view)
        view.resize(width, height)
        view.show()
        qtbot.waitExposed(view)
        view.activateWindow()
        view.setFocus()
        document.wait_for_check()
        view.fit_to_contents()
        QCursor.setPos(view.mapToGlobal(QPoint(-500, -500)))   # the mouse starts away from the canvas
        made.append(Canvas(document, view.graph_scene(), view, actions))
        return made[-1]
    yield make
    for canvas in made:
        canvas.document.close()
