"""A node's input or output port: the handle a connection is dragged from and dropped on."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QPen
from PySide6.QtWidgets import QGraphicsItem

from . import style
from .style import HoverHighlight

BOUNDS = QRectF(-style.PORT_RADIUS - 5, -style.PORT_RADIUS - 5, 2 * style.PORT_RADIUS + 10, 2 * style.PORT_RADIUS + 10)


class PortItem(HoverHighlight, QGraphicsItem):
    """A small circle on a node card's edge; drags starting here are handled by the scene's ConnectionDrag."""

    def __init__(self, parent: QGraphicsItem, name: str, is_output: bool, color):
        super().__init__(parent)
        self.name, self.is_output, self._color = name, is_output, color
        self.connected = False
        self.highlight: str | None = None   # None, "ok" or "refused" while a connection is dragged over it
        self._hover = False
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CrossCursor)
        self.setZValue(1)

    @property
    def node_id(self) -> str:
        return self.parentItem().node_id

    def center(self) -> QPointF:
        return self.scenePos()

    def boundingRect(self) -> QRectF:
        return BOUNDS

    def paint(self, painter, option, widget=None) -> None:
        r = style.PORT_RADIUS + (1.5 if self._hover or self.highlight else 0)
        ring = {"ok": style.OK, "refused": style.ERROR}.get(self.highlight, self._color)
        painter.setPen(QPen(ring, 2))
        painter.setBrush(QBrush(ring if self.connected or self.highlight else style.CARD))
        painter.drawEllipse(QPointF(0, 0), r, r)

    def set_highlight(self, state: str | None) -> None:
        if state != self.highlight:
            self.highlight = state
            self.update()

    def set_connected(self, connected: bool) -> None:
        if connected != self.connected:
            self.connected = connected
            self.update()

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.LeftButton:
            self.scene().connection_drag.begin(self)
        else:
            event.ignore()

    def mouseMoveEvent(self, event) -> None:
        self.scene().connection_drag.move(event.scenePos())

    def mouseReleaseEvent(self, event) -> None:
        self.scene().connection_drag.finish(event.scenePos())
