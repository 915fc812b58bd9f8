"""A node card: coloured header with the layer type (or block name), the id, named ports and the key params.

A block instance's card shows its block params, output shape, parameters and, during training, the worst
gradient health inside it; clicking its health dot expands the card to every inner layer's health."""
from __future__ import annotations

import html

from PySide6.QtCore import QPointF, QRectF, Qt
import numpy as np
from PySide6.QtGui import QColor, QFontMetricsF, QLinearGradient, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsItem

from layerloom.engine import NodeBase, NodeCost, NodeInfo
from layerloom.engine.costs import format_macs
from .. import pictures, theme
from ..pictures import MAPS_COLORMAP
from layerloom.engine.document import is_instance
from layerloom.engine.train.diagnosis import SEVERITY, NodeHealth
from . import card_lod, style
from .geometry import card_size, has_footer
from .port_item import PortItem


MAX_INNER_ROWS = 12
# Narrower margins and smaller type than the params rows: "1.79 K params" and "86.7 M MACs" share the last row.
FOOTER_MARGIN, FOOTER_POINTS = 6, 7.0


class NodeItem(QGraphicsItem):
    """Draws one node of the document; its position is the node's layout entry (top-left corner)."""

    def __init__(self, node: NodeBase, spec):
        super().__init__()
        self.node: NodeBase = node
        self.spec = spec
        self.inner: dict[str, NodeHealth] = {}   # an instance's layers' health, by path below it
        self.expanded = False
        self.problems: list[str] = []
        self.info: NodeInfo | None = None
        self.health: NodeHealth | None = None
        self.cost: NodeCost | None = None
        self.share: float | None = None   # of all MACs, for the few nodes that do most of the work
        self.attention: np.ndarray | None = None   # an attention layer's latest map (T_q, T_k), from the dashboard
        self._thumbnail: QPixmap | None = None
        self.inputs: dict[str, PortItem] = {}
        self.outputs: dict[str, PortItem] = {}
        self.setFlags(QGraphicsItem.ItemIsMovable | QGraphicsItem.ItemIsSelectable
                      | QGraphicsItem.ItemSendsGeometryChanges)
        self.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        self.setAcceptHoverEvents(True)
        self._build()

    @property
    def node_id(self) -> str:
        return self.node.id

    @property
    def type_color(self) -> QColor:
        return self._color

    # model -> item ----------------------------------------------------------------
    def set_node(self, node: NodeBase, spec) -> None:
        """Show new params of the same node (a new type gets a new item, since its ports differ)."""
        self.node, self.spec = node, spec
        self.prepareGeometryChange()
        self._build(ports=False)
        self._index()

    def set_status(self, problems: list[str], info: NodeInfo | None) -> None:
        if problems != self.problems or (info is not self.info and info != self.info):
            self.problems, self.info = problems, info
            self._refresh()

    def set_cost(self, cost: NodeCost | None, share: float | None) -> None:
        if (cost, share) != (self.cost, self.share):
            self.cost, self.share = cost, share
            self._refresh()

    def set_health(self, health: NodeHealth | None, inner: dict[str, NodeHealth] | None = None) -> None:
        """The node's health; for an instance, the worst inside it and each inner layer's."""
        inner = inner or {}
        if (health, inner) != (self.health, self.inner):
            resized = self.expanded and len(inner) != len(self.inner)
            self.health, self.inner = health, inner
            if resized or (self.expanded and not inner):
                self.expanded = self.expanded and bool(inner)
                self._resize()
            self._refresh()

    def toggle_inner(self) -> None:
        """Show or hide the inner layers' health (an instance's card during training)."""
        if self.inner or self.expanded:
            self.expanded = not self.expanded
            self._resize()

    def _resize(self) -> None:
        self.prepareGeometryChange()
        rows = min(len(self.inner), MAX_INNER_ROWS) if self.expanded else 0
        width, height = card_size(self.node, self.spec)
        self._rect = QRectF(0, 0, width, height + (rows * style.PARAM_ROW + 6 if rows else 0))
        self._bounds = self._rect.adjusted(-5, -5, 5, 7)
        self._index()
        self.update()

    def mousePressEvent(self, event) -> None:
        if self.inner and self._dot_rect().contains(event.pos()):
            self.toggle_inner()
            event.accept()
            return
        super().mousePressEvent(event)

    def _dot_rect(self) -> QRectF:
        right = self._rect.width() - 8 - (20 if self.problems else 0)
        return QRectF(right - 14, 4, 16, 16)

    def itemChange(self, change, value):
        if change in (QGraphicsItem.ItemPositionHasChanged, QGraphicsItem.ItemSceneHasChanged):
            self._index()
        return super().itemChange(change, value)

    def _index(self) -> None:
        """Tell the scene's card index where this card is now (edges route around it)."""
        if self.scene() is not None:
            self.scene().cards.set(self.node_id, self.card_rect())

    def set_attention(self, weights: np.ndarray | None) -> None:
        """Show an attention layer's map (T_q, T_k) in its card's band, scaled to its largest weight."""
        if weights is self.attention:
            return
        self.attention = weights
        self._thumbnail = None if weights is None else pictures.pixmap(
            weights / max(float(weights.max()), 1e-12), style.MAP_BAND - 8, MAPS_COLORMAP)
        self.update()

    def card_rect(self) -> tuple[float, float, float, float]:
        """The card in scene coordinates: x, y, width, height."""
        return self.x(), self.y(), self._rect.width(), self._rect.height()

    def port(self, name: str, is_output: bool) -> PortItem | None:
        return (self.outputs if is_output else self.inputs).get(name)

    def ports(self) -> list[PortItem]:
        return [*self.inputs.values(), *self.outputs.values()]

    def set_ports_visible(self, visible: bool) -> None:
        for port in self.ports():
            port.setVisible(visible)

    # geometry -----------------------------------------------------------------------
    def _build(self, ports: bool = True) -> None:
        spec = self.spec
        self._color = style.category_color(spec.category)
        self._title = spec.palette_name or (f"{self.node.type} (block)" if is_instance(self.node) else self.node.type)
        self._params = style.key_params(self.node, spec)
        self._port_rows = max(len(spec.inputs), len(spec.outputs), 1)
        self._has_footer = has_footer(self.node, spec)
        self._rect = QRectF(0, 0, *card_size(self.node, spec))
        self._bounds = self._rect.adjusted(-5, -5, 5, 7)
        if self.expanded:
            self._resize()
        if ports:
            self.inputs = {p.name: PortItem(self, p.name, False, self._color) for p in spec.inputs}
            self.outputs = {name: PortItem(self, name, True, self._color) for name in spec.outputs}
        top = style.HEADER_HEIGHT + style.ID_ROW
        for row, port in enumerate(self.inputs.values()):
            port.setPos(0, top + (row + 0.5) * style.PORT_ROW)
        for row, port in enumerate(self.outputs.values()):
            port.setPos(style.NODE_WIDTH, top + (row + 0.5) * style.PORT_ROW)
        self._refresh()

    def _refresh(self) -> None:
        self.setToolTip(self._tooltip())
        self.update()

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(self._rect, style.CORNER, style.CORNER)
        return path

    # painting -----------------------------------------------------------------------
    def paint(self, painter, option, widget=None) -> None:
        rect, corner = self._rect, style.CORNER
        painter.setRenderHint(painter.RenderHint.Antialiasing)
        zoom = option.levelOfDetailFromTransform(painter.worldTransform())
        detailed = zoom >= style.DETAIL_ZOOM
        if not detailed:   # too small to read: the type's color, the id, and the health tint filling the card
            tint = theme.color(self.health.level) if self.health is not None else None
            card_lod.paint(painter, rect, self._color, tint, self.node.id, zoom)
        else:
            self._paint_card(painter)
        border, width = style.CARD_BORDER, 1.0
        if self.problems:
            border, width = style.ERROR, 2.0
        if self.isSelected():
            border, width = style.ACCENT, 2.5
        painter.setPen(QPen(border, width if detailed else width / max(zoom, 0.2)))
        painter.setBrush(Qt.NoBrush)
        painter.drawRoundedRect(rect, corner, corner)

    def _paint_card(self, painter) -> None:
        rect, corner = self._rect, style.CORNER
        if self.health is not None:     # an outlined ring, so the health color shows on either theme's canvas
            painter.setBrush(Qt.NoBrush)
            painter.setPen(QPen(style.HEALTH_OUTLINE, 7))
            painter.drawRoundedRect(rect.adjusted(-2, -2, 2, 2), corner + 2, corner + 2)
            painter.setPen(QPen(theme.color(self.health.level), 5))
            painter.drawRoundedRect(rect.adjusted(-2, -2, 2, 2), corner + 2, corner + 2)
        painter.setPen(Qt.NoPen)
        painter.setBrush(QColor(0, 0, 0, 90))
        painter.drawRoundedRect(rect.translated(0, 3), corner, corner)
        painter.setBrush(style.CARD)
        painter.drawRoundedRect(rect, corner, corner)
        self._paint_header(painter)
        self._paint_body(painter)

    def _paint_header(self, painter) -> None:
        rect = QRectF(0, 0, self._rect.width(), style.HEADER_HEIGHT)
        path = QPainterPath()
        path.addRoundedRect(rect, style.CORNER, style.CORNER)
        square = QPainterPath()
        square.addRect(rect.adjusted(0, style.CORNER, 0, 0))
        gradient = QLinearGradient(rect.topLeft(), rect.bottomLeft())
        gradient.setColorAt(0, self._color.lighter(118))
        gradient.setColorAt(1, self._color)
        painter.setPen(Qt.NoPen)
        painter.setBrush(gradient)
        painter.drawPath(path.united(square))
        right = rect.right() - 8
        if self.problems:
            badge = QRectF(right - 16, 4, 16, 16)
            painter.setBrush(style.BADGE)
            painter.setPen(QPen(style.HEADER_TEXT, 1.2))
            painter.drawEllipse(badge)
            painter.setFont(style.font(8, bold=True))
            painter.drawText(badge, Qt.AlignCenter, "!")
            right -= 20
        if self.health is not None:
            painter.setPen(QPen(style.HEALTH_OUTLINE, 1.2))
            painter.setBrush(theme.color(self.health.level))
            painter.drawEllipse(QPointF(right - 6, 12), 5, 5)
            right -= 16
        painter.setPen(style.HEADER_TEXT)
        self._text(painter, QRectF(10, 0, right - 10, rect.height()), self._title, style.font(8.5, bold=True))

    def _paint_body(self, painter) -> None:
        width, y = self._rect.width(), float(style.HEADER_HEIGHT)
        painter.setPen(style.TEXT)
        self._text(painter, QRectF(10, y + 2, width - 20, style.ID_ROW), self.node.id, style.font(9.5, bold=True))
        y += style.ID_ROW
        painter.setPen(style.TEXT_DIM)
        small = style.font(7.5)
        for row, name in enumerate(self.inputs):
            self._text(painter, QRectF(12, y + row * style.PORT_ROW, width / 2 - 12, style.PORT_ROW), name, small)
        for row, name in enumerate(self.outputs):
            self._text(painter, QRectF(width / 2, y + row * style.PORT_ROW, width / 2 - 12, style.PORT_ROW),
                       name, small, Qt.AlignRight)
        y += self._port_rows * style.PORT_ROW + 6
        if self._params or self._has_footer:
            painter.setPen(QPen(style.CARD_BORDER, 1))
            painter.drawLine(QPointF(8, y - 2), QPointF(width - 8, y - 2))
        for name, value in self._params:
            painter.setPen(style.TEXT_DIM)
            self._text(painter, QRectF(10, y, width - 20, style.PARAM_ROW), name, small)
            painter.setPen(style.TEXT)
            self._text(painter, QRectF(10, y, width - 20, style.PARAM_ROW), value, style.font(7.5, bold=True),
                       Qt.AlignRight)
            y += style.PARAM_ROW
        if self.spec.attention:
            self._paint_map(painter, QRectF(10, y + 2, width - 20, style.MAP_BAND - 6))
            y += style.MAP_BAND
        if self._has_footer:
            self._paint_footer(painter, QRectF(FOOTER_MARGIN, y + 2, width - 2 * FOOTER_MARGIN, style.PARAM_ROW))
            y += style.PARAM_ROW + 2
        if self.expanded:
            self._paint_inner(painter, y + 4, width)

    def _paint_inner(self, painter, y: float, width: float) -> None:
        """One row per inner layer: its health dot and its path below the instance (the worst first)."""
        painter.setPen(QPen(style.CARD_BORDER, 1))
        painter.drawLine(QPointF(8, y - 2), QPointF(width - 8, y - 2))
        ranked = sorted(self.inner.items(), key=lambda item: -SEVERITY.index(item[1].level))
        for row, (path, health) in enumerate(ranked[:MAX_INNER_ROWS]):
            top = y + row * style.PARAM_ROW
            painter.setPen(QPen(style.HEALTH_OUTLINE, 1))
            painter.setBrush(theme.color(health.level))
            painter.drawEllipse(QPointF(14, top + style.PARAM_ROW / 2), 4, 4)
            painter.setPen(style.TEXT)
            self._text(painter, QRectF(24, top, width - 34, style.PARAM_ROW), path, style.font(7.5))

    def _paint_map(self, painter, rect: QRectF) -> None:
        """The latest attention map (mean of the heads), or where it will come from."""
        if self._thumbnail is None:
            painter.setPen(style.TEXT_DIM)
            self._text(painter, rect, "map: probe or train", style.font(7.5), Qt.AlignHCenter)
            return
        size = self._thumbnail.size().scaled(int(rect.width()), int(rect.height()), Qt.KeepAspectRatio)
        target = QRectF(rect.center().x() - size.width() / 2, rect.top(), size.width(), size.height())
        painter.drawPixmap(target.toRect(), self._thumbnail)
        painter.setPen(QPen(style.CARD_BORDER, 1))
        painter.setBrush(Qt.NoBrush)
        painter.drawRect(target)

    def _paint_footer(self, painter, rect: QRectF) -> None:
        """The output card: what it receives. A weighted layer's: its parameters, and its MACs per sample on the
        right, in the accent color for the few layers that do most of the model's work."""
        params, macs = self.footer()
        painter.setPen(style.TEXT_DIM)
        self._text(painter, rect, params, style.font(FOOTER_POINTS))
        if macs:
            painter.setPen(style.HEAVY if self.share is not None else style.TEXT)
            self._text(painter, rect, macs, style.font(FOOTER_POINTS, bold=True), Qt.AlignRight)

    def footer(self) -> tuple[str, str]:
        """(left, right) texts of the card's last row: '18.5 K params', '295 K MACs' (exact counts in the tooltip)."""
        if self.info is None:
            return "…", ""
        if self.node.type == "output":
            return f"receives {style.format_shape(self.info.shape)}", ""
        macs = f"{format_macs(self.cost.macs)} MACs" if self.cost else ""
        return f"{format_macs(self.info.params)} params", macs

    @staticmethod
    def _text(painter, rect: QRectF, text: str, font, align=Qt.AlignLeft) -> None:
        painter.setFont(font)
        elided = QFontMetricsF(font).elidedText(text, Qt.ElideRight, rect.width())
        painter.drawText(rect, align | Qt.AlignVCenter, elided)

    def _tooltip(self) -> str:
        spec = self.spec
        lines = [f"<b>{html.escape(self.node.id)}</b> · {html.escape(self._title)}",
                 f"<span style='color:{theme.hex_of('text_muted')}'>{html.escape(spec.doc.splitlines()[0] if spec.doc else '')}</span>"]
        if self.info is not None:
            shapes = ", ".join(f"{p} {style.format_shape(m)}" for p, m in self.info.outputs.items())
            lines.append(f"output: {html.escape(shapes)} · {self.info.params:,} params")
        if self.cost is not None and self.cost.macs:
            share = f" ({self.share:.0%} of the model's)" if self.share is not None else ""
            lines.append(f"{self.cost.macs:,} multiply-accumulates per sample{share}")
        for problem in self.problems:
            lines.append(f"<span style='color:{theme.hex_of('error_text')}'>⚠ {html.escape(problem)}</span>")
        if self.health is not None:
            lines.append(f"<b>{self.health.level}</b>: {html.escape(self.health.note)}")
        if self.inner:
            lines.append("click the health dot to show each inner layer's health")
        return "<br>".join(lines)
