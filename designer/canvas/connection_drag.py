"""Dragging a connection from port to port: one edit on release, or the reason it was refused."""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QLineF, QPointF, QRectF

from layerloom.engine import Edge
from ..edits import EditError, connect, disconnect
from .edge_item import PendingEdge
from .node_item import NodeItem
from .port_item import PortItem

if TYPE_CHECKING:
    from .scene import GraphScene

SNAP_DISTANCE = 18.0


class ConnectionDrag:
    """Drags start at any port; pressing a connected single input picks its edge up to move or drop it."""

    def __init__(self, scene: "GraphScene"):
        self.scene = scene
        self.pending: PendingEdge | None = None
        self._detached: Edge | None = None
        self._candidate: PortItem | None = None

    @property
    def active(self) -> bool:
        return self.pending is not None

    def begin(self, port: PortItem) -> None:
        arch = self.scene.document.view
        self._detached = None
        if not port.is_output:
            spec_port = arch.spec(arch.node(port.node_id)).input_port(port.name)
            taken = [e for e in arch.edges if e.target == port.node_id and e.target_port == port.name]
            if taken and spec_port is not None and not spec_port.multiple:
                self._detached = taken[0]
                item = self.scene.edges.get(taken[0])
                if item is not None:
                    item.setVisible(False)
                    port = item.source
        self.pending = PendingEdge(port)
        self.scene.addItem(self.pending)
        self.pending.follow(port.center(), None)

    def move(self, point: QPointF) -> None:
        if self.pending is None:
            return
        target = self._target_at(point)
        if target is not self._candidate:
            if self._candidate is not None:
                self._candidate.set_highlight(None)
            self._candidate = target
            if target is not None:
                reason = self._refusal(target)
                target.set_highlight("refused" if reason else "ok")
                if reason:
                    self.scene.message.emit(f"Cannot connect: {reason}")
        state = self._candidate.highlight if self._candidate is not None else None
        self.pending.follow(self._candidate.center() if self._candidate is not None else point, state)

    def finish(self, point: QPointF) -> None:
        if self.pending is None:
            return
        target = self._target_at(point)
        anchor, detached = self.pending.anchor, self._detached
        self.cancel()
        document = self.scene.document
        base = disconnect(document.view, [detached]) if detached else document.view
        if target is None:
            if detached:
                document.apply_view(base, "Disconnect")
            elif QLineF(anchor.center(), point).length() > SNAP_DISTANCE:   # dragged out, not just clicked
                self.scene.wire_dropped.emit(anchor.node_id, anchor.name, anchor.is_output, point)
            return
        edge = self._edge(anchor, target)
        if edge == detached:
            return
        try:
            document.apply_view(connect(base, edge), "Reconnect" if detached else "Connect")
        except EditError as error:
            self.scene.message.emit(f"Cannot connect: {error}")

    def cancel(self) -> None:
        if self._candidate is not None:
            self._candidate.set_highlight(None)
        if self.pending is not None:
            self.scene.removeItem(self.pending)
        if self._detached is not None and self._detached in self.scene.edges:
            self.scene.edges[self._detached].setVisible(True)
        self.pending, self._candidate, self._detached = None, None, None

    def _edge(self, anchor: PortItem, target: PortItem) -> Edge:
        source, sink = (anchor, target) if anchor.is_output else (target, anchor)
        return Edge(source=source.node_id, source_port=source.name, target=sink.node_id, target_port=sink.name)

    def _refusal(self, target: PortItem) -> str:
        arch = self.scene.document.view
        base = disconnect(arch, [self._detached]) if self._detached else arch
        edge = self._edge(self.pending.anchor, target)
        if edge == self._detached:
            return ""
        try:
            connect(base, edge)
        except EditError as error:
            return str(error)
        return ""

    def _target_at(self, point: QPointF) -> PortItem | None:
        """The nearest port of the other direction; over a node's body, its first free such port."""
        wanted_output = not self.pending.anchor.is_output
        near = [p for p in self._ports_near(point) if p.is_output == wanted_output]
        if near:
            return min(near, key=lambda p: QLineF(p.center(), point).length())
        for item in self.scene.items(point):
            if isinstance(item, NodeItem):
                ports = list((item.outputs if wanted_output else item.inputs).values())
                free = [p for p in ports if not p.connected] or ports
                return free[0] if free else None
        return None

    def _ports_near(self, point: QPointF) -> list[PortItem]:
        box = QRectF(point.x() - SNAP_DISTANCE, point.y() - SNAP_DISTANCE, 2 * SNAP_DISTANCE, 2 * SNAP_DISTANCE)
        return [item for item in self.scene.items(box) if isinstance(item, PortItem)
                and item is not self.pending.anchor and QLineF(item.center(), point).length() <= SNAP_DISTANCE]
