"""A frame: a titled, colored rectangle behind a group of nodes. Dragging its title bar carries the nodes inside
it; its corner handle resizes it. Each gesture is one undoable edit of the document's layout."""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem

from layerloom.engine.document import Frame
from ..edits import move_nodes, set_frame
from .. import theme
from . import style

if TYPE_CHECKING:
    from .scene import GraphScene

TITLE = 32.0            # the title bar's height (the layout's FRAME_TITLE)
HANDLE = 16.0
MIN_SIZE = (120.0, 80.0)


class FrameItem(QGraphicsItem):
    """Draws `frame` (the index-th of the layout's frames); only its title bar and handle take the mouse, so
    clicks on its body reach the canvas and the nodes."""

    def __init__(self, index: int, frame: Frame):
        super().__init__()
        self.index, self.frame = index, frame
        x, y, width, height = frame.rect
        self.setPos(x, y)
        self._size = QPointF(width, height)
        self._press: tuple[str, QPointF, dict[str, QPointF]] | None = None   # (gesture, mouse, node positions)
        self.setZValue(-3)
        self.setAcceptHoverEvents(True)
        self.setToolTip(f"{frame.title or 'Frame'}: drag the title to move it with its nodes, the corner to resize")

    def rect(self) -> QRectF:
        return QRectF(0, 0, self._size.x(), self._size.y())

    def boundingRect(self) -> QRectF:
        return self.rect().adjusted(-2, -2, 2, 2)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRect(QRectF(0, 0, self._size.x(), TITLE))
        path.addRect(self._handle())
        return path

    def _handle(self) -> QRectF:
        return QRectF(self._size.x() - HANDLE, self._size.y() - HANDLE, HANDLE, HANDLE)

    def paint(self, painter, option, widget=None) -> None:
        color = theme.color(f"frame:{self.frame.color}")
        fill = QColor(color)
        fill.setAlpha(38)
        painter.setRenderHint(painter.RenderHint.Antialiasing)
        painter.setPen(QPen(color, 1.5))
        painter.setBrush(fill)
        painter.drawRoundedRect(self.rect(), style.CORNER, style.CORNER)
        bar = QPainterPath()
        bar.addRoundedRect(QRectF(0, 0, self._size.x(), TITLE), style.CORNER, style.CORNER)
        bar.addRect(QRectF(0, style.CORNER, self._size.x(), TITLE - style.CORNER))
        fill.setAlpha(120)
        painter.setPen(Qt.NoPen)
        painter.setBrush(fill)
        painter.drawPath(bar.simplified())
        painter.setPen(style.TEXT)
        zoom = option.levelOfDetailFromTransform(painter.worldTransform())
        painter.setFont(style.font(round(11 / min(1.0, max(zoom, 0.25))), bold=True))   # readable zoomed out
        painter.drawText(QRectF(12, 0, self._size.x() - 24, TITLE), Qt.AlignVCenter | Qt.AlignLeft,
                         self.frame.title or "Frame")
        painter.setPen(QPen(color, 1.5))
        corner = self._handle()
        for step in (4, 8, 12):
            painter.drawLine(QPointF(corner.right() - step, corner.bottom() - 2),
                             QPointF(corner.right() - 2, corner.bottom() - step))

    # gestures ----------------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:
        if event.button() != Qt.LeftButton:
            event.ignore()
            return
        scene: GraphScene = self.scene()
        gesture = "resize" if self._handle().contains(event.pos()) else "move"
        inside = self.sceneBoundingRect()
        held = {} if gesture == "resize" else {i: item.pos() for i, item in scene.nodes.items()
                                               if inside.contains(item.sceneBoundingRect().center())}
        self._press = (gesture, event.scenePos(), held)
        self.setCursor(Qt.SizeFDiagCursor if gesture == "resize" else Qt.ClosedHandCursor)

    def mouseMoveEvent(self, event) -> None:
        if self._press is None:
            return
        gesture, start, held = self._press
        scene: GraphScene = self.scene()
        delta = scene.snap(event.scenePos() - start)
        if gesture == "resize":
            self.prepareGeometryChange()
            x, y, width, height = self.frame.rect
            self._size = QPointF(max(MIN_SIZE[0], width + delta.x()), max(MIN_SIZE[1], height + delta.y()))
            return
        self.setPos(QPointF(*self.frame.rect[:2]) + delta)
        for node_id, position in held.items():
            scene.nodes[node_id].setPos(position + delta)
            scene.node_moved(scene.nodes[node_id])

    def mouseReleaseEvent(self, event) -> None:
        if self._press is None:
            return
        gesture, _, held = self._press
        self._press = None
        self.unsetCursor()
        scene: GraphScene = self.scene()
        rect = (self.x(), self.y(), self._size.x(), self._size.y())
        moved = {node_id: (scene.nodes[node_id].x(), scene.nodes[node_id].y()) for node_id in held}
        arch = set_frame(move_nodes(scene.document.view, moved), self.index, self.frame.model_copy(update={"rect": rect}))
        scene.document.apply_view(arch, "Resize frame" if rect[2:] != self.frame.rect[2:] else "Move frame")
