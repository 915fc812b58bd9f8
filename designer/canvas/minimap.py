"""The minimap: the whole graph in a corner of the canvas, nodes in their health tint (else their type's color),
and the part the view shows; click or drag in it to look elsewhere. It shows only while part of the graph is
out of view (after fit-to-view it would only hide a corner of the graph)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPainter, QPen
from PySide6.QtWidgets import QWidget

from .. import theme
from . import style

if TYPE_CHECKING:
    from .view import GraphView

SIZE = (240, 150)
MARGIN = 12           # from the canvas's corner, in pixels
PAD = 200.0           # scene units shown around the graph


class Minimap(QWidget):
    """An overlay in the canvas's bottom-right corner."""

    def __init__(self, view: "GraphView"):
        super().__init__(view)
        self.view = view
        self.setFixedSize(*SIZE)
        self.setCursor(Qt.PointingHandCursor)
        self.setToolTip("Minimap: click or drag to move the view")
        self.enabled = True
        view.graph_scene().changed.connect(lambda _: self.update())
        view.zoom_changed.connect(lambda _: self.refresh())
        view.horizontalScrollBar().valueChanged.connect(self.refresh)
        view.verticalScrollBar().valueChanged.connect(self.refresh)
        view.graph_scene().document.changed.connect(self.refresh)

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = enabled
        self.refresh()

    def refresh(self) -> None:
        if self.view.scene() is None:   # the window is closing
            return
        contents = self.view.graph_scene().contents_rect()
        shown = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        self.setVisible(self.enabled and not contents.isNull() and not shown.contains(contents))
        self.place()
        self.update()

    def place(self) -> None:
        self.move(self.view.width() - self.width() - MARGIN, self.view.height() - self.height() - MARGIN)

    def _world(self) -> tuple[QRectF, float]:
        """The scene rect shown and the scale from scene units to minimap pixels."""
        world = self.view.graph_scene().contents_rect().adjusted(-PAD, -PAD, PAD, PAD)
        scale = min(self.width() / world.width(), self.height() / world.height())
        return world, scale

    def _offset(self, world: QRectF, scale: float) -> QPointF:
        return QPointF((self.width() - world.width() * scale) / 2, (self.height() - world.height() * scale) / 2)

    def _to_map(self, point: QPointF, world: QRectF, scale: float) -> QPointF:
        return (point - world.topLeft()) * scale + self._offset(world, scale)

    def paintEvent(self, event) -> None:
        scene = self.view.graph_scene()
        if not scene.nodes:
            return
        painter = QPainter(self)
        back = theme.color("base")
        back.setAlpha(225)
        painter.fillRect(self.rect(), back)
        world, scale = self._world()
        for item in scene.nodes.values():
            x, y, width, height = item.card_rect()
            corner = self._to_map(QPointF(x, y), world, scale)
            color = theme.color(item.health.level) if item.health is not None else item.type_color
            painter.fillRect(QRectF(corner.x(), corner.y(), max(2.0, width * scale), max(2.0, height * scale)), color)
        shown = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        seen = QRectF(self._to_map(shown.topLeft(), world, scale), self._to_map(shown.bottomRight(), world, scale))
        painter.setPen(QPen(style.ACCENT, 1.5))
        painter.setBrush(Qt.NoBrush)
        painter.drawRect(seen.intersected(QRectF(self.rect()).adjusted(1, 1, -1, -1)))
        painter.setPen(QPen(style.CARD_BORDER, 1))
        painter.drawRect(QRectF(self.rect()).adjusted(0, 0, -1, -1))

    def mousePressEvent(self, event) -> None:
        self._look_at(event.position())

    def mouseMoveEvent(self, event) -> None:
        if event.buttons() & Qt.LeftButton:
            self._look_at(event.position())

    def _look_at(self, position: QPointF) -> None:
        world, scale = self._world()
        self.view.centerOn((position - self._offset(world, scale)) / scale + world.topLeft())
