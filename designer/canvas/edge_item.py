"""Edges: a curve from an output port to an input port, labelled with the tensor shape it carries."""
from __future__ import annotations

import html

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem

from layerloom.engine import Edge
from .. import theme
from . import routing, style
from .style import HoverHighlight
from .port_item import PortItem

REACH = 600.0   # how far above and below its ends an edge looks for a clear lane


def curve(start: QPointF, end: QPointF) -> QPainterPath:
    """A horizontal-tangent cubic from `start` to `end`, bulging further when the edge runs backwards."""
    reach = max(50.0, abs(end.x() - start.x()) * 0.5)
    if end.x() < start.x():
        reach = max(reach, 120.0)
    path = QPainterPath(start)
    path.cubicTo(start + QPointF(reach, 0), end - QPointF(reach, 0), end)
    return path


def laned(start: QPointF, end: QPointF, y: float) -> QPainterPath:
    """From `start` out to the right, along the lane at height `y`, and into `end` from the left."""
    bend = routing.BEND
    forward = end.x() > start.x() + 2 * bend
    out_x, in_x = (start.x() + bend, end.x() - bend) if forward else (start.x(), end.x())
    reach = bend / 2 if forward else bend
    path = QPainterPath(start)
    path.cubicTo(QPointF(start.x() + reach, start.y()), QPointF(start.x() + reach, y), QPointF(out_x, y))
    path.lineTo(in_x, y)
    path.cubicTo(QPointF(end.x() - reach, y), QPointF(end.x() - reach, end.y()), end)
    return path


class EdgeItem(HoverHighlight, QGraphicsItem):
    """One document edge; it follows its ports and shows the shape computed by the last check."""

    def __init__(self, edge: Edge, source: PortItem, target: PortItem):
        super().__init__()
        self.edge, self.source, self.target = edge, source, target
        self.label = ""
        self.problems: list[str] = []
        self._meta = None
        self._hover = False
        self._path = QPainterPath()
        self._label_rect = QRectF()
        self.setFlags(QGraphicsItem.ItemIsSelectable)
        self.setCacheMode(QGraphicsItem.DeviceCoordinateCache)   # a repaint draws the unchanged edges from pixmaps
        self.setAcceptHoverEvents(True)
        self.setZValue(-1)
        self.update_path()

    def set_status(self, meta, problems: list[str]) -> None:
        """Show the shape `meta` of the last check (None when unknown) and the edge's problems."""
        if meta is self._meta and problems == self.problems:
            return
        label = style.format_shape(meta)
        self._meta = meta
        if label != self.label or problems != self.problems:
            self.prepareGeometryChange()
            self.label, self.problems = label, problems
            self._place_label()
            tip = [f"{self.edge.source}.{self.edge.source_port} → {self.edge.target}.{self.edge.target_port}"]
            tip += [f"shape {label}"] if label else []
            tip += [f"<span style='color:{theme.hex_of('error_text')}'>⚠ {html.escape(p)}</span>" for p in problems]
            self.setToolTip("<br>".join(tip))
            self.update()

    def update_path(self) -> None:
        """Follow the ports, around the cards in the way."""
        start, end = self.source.center(), self.target.center()
        near = self._cards(start, end, 0)   # the box a direct curve sweeps: most edges find it empty
        lane = None if not near and end.x() > start.x() + 2 * routing.BEND else \
            routing.route((start.x(), start.y()), (end.x(), end.y()), self._cards(start, end, REACH))
        self.prepareGeometryChange()
        self._path = curve(start, end) if lane is None else laned(start, end, lane)
        self._place_label()

    def _cards(self, start: QPointF, end: QPointF, reach: float) -> list:
        """The cards between the ends, or around them within `reach` (room for a lane), from the scene's index."""
        scene = self.scene()
        if scene is None:
            return []
        side = routing.BEND if reach else -1.0   # without reach, the edge's own cards are left out
        box = QRectF(start, end).normalized().adjusted(-side, -reach - routing.PAD, side, reach + routing.PAD)
        return scene.cards.query((box.x(), box.y(), box.width(), box.height()))

    def _place_label(self) -> None:
        self._label_rect = QRectF()
        if self.label:
            width = QFontMetricsF(style.font(7.5)).horizontalAdvance(self.label) + 12
            mid = self._path.pointAtPercent(0.5)
            self._label_rect = QRectF(mid.x() - width / 2, mid.y() - 9, width, 18)
        self._bounds = self._path.boundingRect().adjusted(-6, -6, 6, 6).united(self._label_rect)

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        stroker = QPainterPathStroker()
        stroker.setWidth(12)
        outline = stroker.createStroke(self._path)
        if not self._label_rect.isNull():
            outline.addRect(self._label_rect)
        return outline

    def paint(self, painter, option, widget=None) -> None:
        painter.setRenderHint(painter.RenderHint.Antialiasing)
        color = style.ERROR if self.problems else style.EDGE
        width = 2.0
        if self._hover:
            color = color.lighter(135)
        if self.isSelected():
            color, width = style.ACCENT, 3.0
        readable = option.levelOfDetailFromTransform(painter.worldTransform()) >= style.DETAIL_ZOOM
        pen = QPen(color, width if readable else width * 0.75)
        pen.setCosmetic(not readable)   # a zoomed-out edge stays a visible line, in pixels
        pen.setCapStyle(Qt.RoundCap)
        if self.problems:
            pen.setStyle(Qt.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.NoBrush)
        painter.drawPath(self._path)
        if readable and not self._label_rect.isNull():
            painter.setPen(QPen(color, 1))
            painter.setBrush(style.LABEL_BG)
            painter.drawRoundedRect(self._label_rect, 9, 9)
            painter.setPen(style.TEXT)
            painter.setFont(style.font(7.5))
            painter.drawText(self._label_rect, Qt.AlignCenter, self.label)

    def path(self) -> QPainterPath:
        return self._path

    def midpoint(self) -> QPointF:
        return self._path.pointAtPercent(0.5)


class PendingEdge(QGraphicsPathItem):
    """The dashed curve that follows the mouse while a connection is dragged."""

    def __init__(self, anchor: PortItem):
        super().__init__()
        self.anchor = anchor
        pen = QPen(QColor(style.ACCENT), 2, Qt.DashLine)
        pen.setCapStyle(Qt.RoundCap)
        self.setPen(pen)
        self.setZValue(3)

    def follow(self, point: QPointF, state: str | None) -> None:
        color = {"ok": style.OK, "refused": style.ERROR}.get(state, style.ACCENT)
        pen = self.pen()
        pen.setColor(color)
        self.setPen(pen)
        start = self.anchor.center()
        self.setPath(curve(start, point) if self.anchor.is_output else curve(point, start))
