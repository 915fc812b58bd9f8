"""The canvas view: zoom, pan, fit, rubber-band selection, a grid, and drops from the layer palette."""
from __future__ import annotations

import json
import math
from pathlib import Path

from PySide6.QtCore import QLineF, QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QCursor, QPainter, QPen, QPixmapCache
from PySide6.QtWidgets import QFrame, QGraphicsView

from layerloom.engine.document import is_instance
from layerloom.engine.layout import MARGIN
from . import style
from .breadcrumb import Breadcrumb
from .minimap import Minimap
from .quick_add import QuickAdd
from .scene import GraphScene

LAYER_MIME = "application/x-layerloom-layer"
MIN_SCALE, MAX_SCALE = 0.1, 3.0
PIXMAP_CACHE_KB = 128 * 1024
EMPTY_HINT = ("Drag layers here from the Layers panel\nor start from a template: File › New from Template (Ctrl+Shift+N)\n\n"
              "Connect layers by dragging from an output port to an input port")


def parse_layer_drop(data: bytes) -> tuple[str, dict]:
    """(layer type, preset params) from a palette drag's JSON {"type": ..., "params": {...}}."""
    value = json.loads(bytes(data))
    return str(value["type"]), dict(value.get("params") or {})


def _local_files(mime) -> list[Path]:
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()] if mime.hasUrls() else []


class GraphView(QGraphicsView):
    """Shows a GraphScene; wheel zooms about the cursor, middle button or Space+drag pans."""

    zoom_changed = Signal(float)
    files_dropped = Signal(list)   # local paths dropped from a file manager

    def __init__(self, scene: GraphScene, parent=None):
        super().__init__(scene, parent)
        if scene.parent() is None:
            scene.setParent(self)   # a scene nobody else owns lives as long as its view
        self.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing | QPainter.SmoothPixmapTransform)
        self.setDragMode(QGraphicsView.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.SmartViewportUpdate)
        self.setCacheMode(QGraphicsView.CacheBackground)
        # every item sets the pen, brush and font it paints with, and keeps inside its bounds: skip the extra work
        self.setOptimizationFlags(QGraphicsView.DontSavePainterState | QGraphicsView.DontAdjustForAntialiasing)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.NoFrame)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.StrongFocus)
        self._pan_from: QPoint | None = None
        self._space = False
        self._empty = not scene.nodes
        # cards and edges repaint from cached pixmaps; Qt's default 10 MB cache thrashes past about 1,000 nodes
        QPixmapCache.setCacheLimit(max(QPixmapCache.cacheLimit(), PIXMAP_CACHE_KB))
        self.zoom_changed.connect(lambda zoom: scene.set_detailed(zoom >= style.DETAIL_ZOOM))
        self.quick_add = QuickAdd(self)
        self.minimap = Minimap(self)
        self.minimap.refresh()
        self.breadcrumb = Breadcrumb(self)
        scene.document.changed.connect(self._on_document_changed)

    def _on_document_changed(self) -> None:
        empty = not self.graph_scene().nodes
        if empty != self._empty:   # the hint is painted over the whole view: repaint all of it, not just the items
            self._empty = empty
            self.viewport().update()

    def cursor_point(self) -> QPointF | None:
        """The scene point under the mouse; None when the mouse is not over the canvas."""
        at = self.viewport().mapFromGlobal(QCursor.pos())
        return self.mapToScene(at) if self.viewport().rect().contains(at) else None

    def graph_scene(self) -> GraphScene:
        return self.scene()

    # zoom and fit -------------------------------------------------------------------------
    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float) -> None:
        target = min(MAX_SCALE, max(MIN_SCALE, self.zoom() * factor))
        if not math.isclose(target, self.zoom()):
            self.scale(target / self.zoom(), target / self.zoom())
            self.zoom_changed.emit(self.zoom())

    def reset_zoom(self) -> None:
        self.zoom_by(1.0 / self.zoom())

    def fit_to_contents(self, max_scale: float = 1.0) -> None:
        """Show every node (at most at `max_scale`), centred."""
        bounds = self.graph_scene().contents_rect()
        if bounds.isNull():
            self.resetTransform()
            self.centerOn(0, 0)
            self.zoom_changed.emit(self.zoom())
            return
        bounds = bounds.adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN)
        self.fitInView(bounds, Qt.KeepAspectRatio)
        if self.zoom() > max_scale:
            self.resetTransform()
            self.scale(max_scale, max_scale)
        elif self.zoom() < MIN_SCALE:
            self.resetTransform()
            self.scale(MIN_SCALE, MIN_SCALE)
        self.centerOn(bounds.center())
        self.zoom_changed.emit(self.zoom())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.minimap.refresh()

    def wheelEvent(self, event) -> None:
        delta = event.angleDelta().y() or event.angleDelta().x()
        if delta:
            self.zoom_by(1.0015 ** delta)
        event.accept()

    # panning --------------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MiddleButton or (event.button() == Qt.LeftButton and self._space):
            self._pan_from = event.position().toPoint()
            self.viewport().setCursor(Qt.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._pan_from is not None:
            now = event.position().toPoint()
            delta, self._pan_from = now - self._pan_from, now
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._pan_from is not None:
            self._pan_from = None
            self.viewport().setCursor(Qt.OpenHandCursor if self._space else Qt.ArrowCursor)
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:
        if event.button() == Qt.LeftButton:
            item = self.itemAt(event.position().toPoint())
            while item is not None and item.parentItem() is not None:
                item = item.parentItem()
            if item is None:
                self.quick_add.open_at(self.mapToScene(event.position().toPoint()))
                event.accept()
                return
            if getattr(item, "node", None) is not None and is_instance(item.node):
                self.graph_scene().document.enter(item.node.type)   # edit the block in place
                event.accept()
                return
        super().mouseDoubleClickEvent(event)

    def focusNextPrevChild(self, next: bool) -> bool:
        return False   # Tab belongs to the canvas (it opens the layer search), not to focus changes

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.OpenHandCursor)
        elif event.key() == Qt.Key_Escape and self.graph_scene().connection_drag.active:
            self.graph_scene().connection_drag.cancel()
        elif event.key() == Qt.Key_Escape and self.graph_scene().document.scope:
            self.graph_scene().document.leave()   # out of the block being edited, one level
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.viewport().setCursor(Qt.ArrowCursor)
        super().keyReleaseEvent(event)

    # drops from the palette, and files -----------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasFormat(LAYER_MIME) or _local_files(event.mimeData()):
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasFormat(LAYER_MIME) or _local_files(event.mimeData()):
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event) -> None:
        files = _local_files(event.mimeData())
        if files:
            event.acceptProposedAction()
            self.files_dropped.emit(files)
            return
        if not event.mimeData().hasFormat(LAYER_MIME):
            super().dropEvent(event)
            return
        try:
            layer_type, params = parse_layer_drop(event.mimeData().data(LAYER_MIME).data())
        except (ValueError, KeyError, TypeError):
            return
        at = self.mapToScene(event.position().toPoint())
        if self.graph_scene().add_layer(layer_type, params, at) is not None:
            event.acceptProposedAction()
            self.setFocus()

    def center_point(self) -> QPointF:
        """The scene point at the middle of the view (where keyboard-added nodes go)."""
        return self.mapToScene(self.viewport().rect().center())

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        if self.graph_scene().nodes:
            return
        painter.save()
        painter.resetTransform()
        painter.setPen(style.TEXT_DIM)
        painter.setFont(style.font(11))
        painter.drawText(self.viewport().rect(), Qt.AlignCenter, EMPTY_HINT)
        painter.restore()

    # grid -----------------------------------------------------------------------------------------
    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        painter.fillRect(rect, style.BACKGROUND)
        painter.setRenderHint(QPainter.Antialiasing, False)
        for spacing, color in ((style.GRID, style.GRID_MINOR), (style.GRID * 5, style.GRID_MAJOR)):
            if spacing * self.zoom() < 12:   # too dense to help: leave it out
                continue
            left, top = math.floor(rect.left() / spacing) * spacing, math.floor(rect.top() / spacing) * spacing
            xs = [left + i * spacing for i in range(int((rect.right() - left) / spacing) + 1)]
            ys = [top + i * spacing for i in range(int((rect.bottom() - top) / spacing) + 1)]
            painter.setPen(QPen(color, 0))
            painter.drawLines([QLineF(x, rect.top(), x, rect.bottom()) for x in xs]
                              + [QLineF(rect.left(), y, rect.right(), y) for y in ys])
