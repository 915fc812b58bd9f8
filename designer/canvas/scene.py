"""The graph scene: node and edge items rebuilt from the document on every change, never the other way round."""
from __future__ import annotations

import dataclasses
from typing import Callable

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene, QMenu

from layerloom.engine import Architecture, Edge, make_node
from ..document import DocumentModel
from ..edits import EditError, add_node, move_nodes, with_type
from layerloom.engine.document import is_instance
from layerloom.engine.train.diagnosis import NodeHealth, inside, worst
from . import style
from .connection_drag import ConnectionDrag
from .edge_item import EdgeItem
from .frame_item import FrameItem
from .geometry import card_size
from .placement import CardIndex, bounds, free_spot
from .node_item import NodeItem
from .port_item import PortItem

MenuBuilder = Callable[[QGraphicsItem | None, QPointF], QMenu | None]


def positions(arch: Architecture) -> dict[str, tuple[float, float]]:
    """Every node's position: its layout entry, else a column to the right of the laid-out nodes."""
    placed = {n.id: arch.layout.nodes[n.id] for n in arch.nodes if n.id in arch.layout.nodes}
    right = max((x for x, _ in placed.values()), default=-style.LAYOUT_DX) + style.LAYOUT_DX
    row = 0
    for node in arch.nodes:
        if node.id not in placed:
            placed[node.id] = (right, row * style.LAYOUT_DY)
            row += 1
    return placed


class GraphScene(QGraphicsScene):
    """Observes a DocumentModel: `changed` diffs items by node id, `checked` restyles problems and shapes."""

    message = Signal(str)   # a one-line explanation for the status bar (refused connections...)
    wire_dropped = Signal(str, str, bool, QPointF)   # node, port, is_output: a new connection let go on empty canvas

    def __init__(self, document: DocumentModel, parent=None):
        super().__init__(parent)
        self.document = document
        self.nodes: dict[str, NodeItem] = {}
        self.frames: list[FrameItem] = []
        self.cards = CardIndex()   # every card's rect, kept by NodeItem as it moves
        self.edges: dict[Edge, EdgeItem] = {}
        self.snap_to_grid = True
        self.menu_builder: MenuBuilder | None = None
        self.connection_drag = ConnectionDrag(self)
        self._edges_at: dict[str, list[EdgeItem]] = {}
        self._health: dict[str, NodeHealth] = {}
        self._maps: dict = {}
        self._syncing = False
        self.detailed = True    # full cards with ports; False when zoomed out to simplified cards
        self._press_positions: dict[str, QPointF] | None = None
        self.setSceneRect(-50_000, -50_000, 100_000, 100_000)
        self.setBackgroundBrush(style.BACKGROUND)
        document.changed.connect(self._on_document_changed)
        document.checked.connect(self._on_document_checked)
        document.costed.connect(self._on_document_costed)
        document.selection_changed.connect(self._on_selection_changed)
        document.scope_changed.connect(lambda: self.set_node_health(self._health))
        self.selectionChanged.connect(self._on_scene_selection_changed)
        self._on_document_changed()
        self._on_document_checked()

    # document -> items ------------------------------------------------------------------
    def _on_document_changed(self) -> None:
        arch = self.document.view
        wanted = {}
        for node in arch.nodes:
            wanted.setdefault(node.id, node)
        self._syncing = True
        try:
            edge_set = set(arch.edges)
            stale = {i for i, item in self.nodes.items() if i not in wanted or item.node.type != wanted[i].type
                     or item.spec.inputs != (self.document.view.spec(wanted[i]) or item.spec).inputs
                     or item.spec.outputs != (self.document.view.spec(wanted[i]) or item.spec).outputs}
            for edge in [e for e in self.edges if e.source in stale or e.target in stale or e not in edge_set]:
                self.removeItem(self.edges.pop(edge))
            changed = [self.nodes[i].sceneBoundingRect() for i in stale]   # where edges may now run straighter
            for node_id in stale:
                self.removeItem(self.nodes.pop(node_id))
                self.cards.remove(node_id)
            self._edges_at = {}   # rebuilt below; moved nodes' edges follow then
            moved = []
            for node_id, (x, y) in positions(arch).items():
                before = self.nodes[node_id].sceneBoundingRect() if node_id in self.nodes else None
                if self._sync_node(wanted[node_id], QPointF(x, y)) or before is None:
                    changed += [self.nodes[node_id].sceneBoundingRect()] + ([before] if before is not None else [])
                    moved += [node_id] if before is not None else []
            added = {item for item in (self._add_edge(e) for e in arch.edges if e not in self.edges) if item}
            self._index_edges()
            # routed once all cards are in place: new edges, the moved nodes' and those passing where cards changed
            # (when every edge is new, as on opening a document, that is all of them already)
            self.reroute(changed if len(added) < len(self.edges) else [],
                         added | {e for i in moved for e in self._edges_at[i]})
            self._sync_frames(arch.layout.frames)
        finally:
            self._syncing = False
        self._on_selection_changed()

    def _sync_frames(self, frames) -> None:
        if [item.frame for item in self.frames] == frames:
            return
        for item in self.frames:
            self.removeItem(item)
        self.frames = [FrameItem(index, frame) for index, frame in enumerate(frames)]
        for item in self.frames:
            self.addItem(item)

    def set_detailed(self, detailed: bool) -> None:
        """Show the cards' ports or not: a simplified card has none to aim at, and hidden ports cost no painting."""
        if detailed != self.detailed:
            self.detailed = detailed
            for item in self.nodes.values():
                item.set_ports_visible(detailed)

    def _sync_node(self, node, position: QPointF) -> bool:
        """Create or update the node's item; True when an existing item moved."""
        item = self.nodes.get(node.id)
        spec = self.document.view.spec(node)
        if self.document.scope and node.type == "input":   # a block's input has no shape of its own: it shows none
            spec = dataclasses.replace(spec, card=())
        if item is None:
            item = self.nodes[node.id] = NodeItem(node, spec)
            item.set_ports_visible(self.detailed)
            self._show_health(item)
            item.set_attention(self._maps.get(node.id))
            item.setPos(position)
            self.addItem(item)
            return False
        if (item.node is not node and item.node != node) or item.spec != spec:
            item.set_node(node, spec)
        if item.pos() == position:
            return False
        item.setPos(position)
        return True

    def _add_edge(self, edge: Edge) -> EdgeItem | None:
        source, target = self.nodes.get(edge.source), self.nodes.get(edge.target)
        source_port = source.port(edge.source_port, True) if source else None
        target_port = target.port(edge.target_port, False) if target else None
        if source_port is None or target_port is None:   # other edges are listed as problems
            return None
        self.edges[edge] = item = EdgeItem(edge, source_port, target_port)
        self.addItem(item)
        return item

    def _index_edges(self) -> None:
        self._edges_at = {node_id: [] for node_id in self.nodes}
        connected: set[PortItem] = set()
        for item in self.edges.values():
            self._edges_at[item.edge.source].append(item)
            self._edges_at[item.edge.target].append(item)
            connected |= {item.source, item.target}
        for node in self.nodes.values():
            for port in node.ports():
                port.set_connected(port in connected)

    def _on_document_checked(self) -> None:
        node_problems: dict[str, list[str]] = {}
        edge_problems: dict[Edge, list[str]] = {}
        edges = self.document.view.edges
        for problem in self.document.view_problems:
            text = f"{problem.field}: {problem.message}" if problem.field else problem.message
            if problem.node is not None:
                node_problems.setdefault(problem.node, []).append(text)
            elif problem.edge is not None and 0 <= problem.edge < len(edges):
                edge_problems.setdefault(edges[problem.edge], []).append(text)
        infos = self.document.view_shapes.nodes
        for node_id, item in self.nodes.items():
            item.set_status(node_problems.get(node_id, []), infos.get(node_id))
        for edge, item in self.edges.items():
            info = infos.get(edge.source)
            item.set_status(info.outputs.get(edge.source_port) if info else None, edge_problems.get(edge, []))

    def _on_document_costed(self) -> None:
        costs = self.document.view_costs
        heavy = costs.heaviest("macs")
        for node_id, item in self.nodes.items():
            item.set_cost(costs.nodes.get(node_id), heavy.get(node_id))

    def restyle(self) -> None:
        """Repaint the background and every item in the current theme's colors."""
        self.setBackgroundBrush(style.BACKGROUND)
        for item in self.items():
            item.update()

    def set_attention_maps(self, mapping: dict) -> None:
        """Attention layers' latest maps (node id -> (T_q, T_k) array) on their cards; `{}` clears them."""
        self._maps = dict(mapping)
        for node_id, item in self.nodes.items():
            item.set_attention(self._maps.get(node_id))

    def set_node_health(self, mapping: dict[str, NodeHealth]) -> None:
        """Tint nodes by gradient health (from the training dashboard, by layer path); `{}` clears every tint. An
        instance shows the worst health inside it; inside a block, its nodes show those of its first instance."""
        self._health = dict(mapping)
        for item in self.nodes.values():
            self._show_health(item)

    def _show_health(self, item: NodeItem) -> None:
        found = self.document.view_realization()
        path = (found[0] if found else "") + item.node_id
        inner = inside(self._health, path) if is_instance(item.node) else {}
        own = self._health.get(path) or (worst(inner)[1] if inner else None)
        item.set_health(own, inner)

    # selection ------------------------------------------------------------------------------
    def _on_selection_changed(self) -> None:
        selected = self.document.selection
        self._syncing = True
        try:
            for node_id, item in self.nodes.items():
                if item.isSelected() != (node_id in selected):
                    item.setSelected(node_id in selected)
        finally:
            self._syncing = False

    def _on_scene_selection_changed(self) -> None:
        if not self._syncing:
            self.document.select(self.selected_node_ids())

    def selected_node_ids(self) -> list[str]:
        return [item.node_id for item in self.selectedItems() if isinstance(item, NodeItem)]

    def selected_edges(self) -> list[Edge]:
        return [item.edge for item in self.selectedItems() if isinstance(item, EdgeItem)]

    # moving -----------------------------------------------------------------------------------
    def snap(self, point: QPointF) -> QPointF:
        """`point` on the grid when snapping is on."""
        if not self.snap_to_grid:
            return point
        return QPointF(round(point.x() / style.GRID) * style.GRID, round(point.y() / style.GRID) * style.GRID)

    def node_moved(self, item: NodeItem) -> None:
        for edge in self._edges_at.get(item.node_id, ()):
            edge.update_path()

    def reroute(self, rects: list[QRectF], edges: set[EdgeItem] = frozenset()) -> None:
        """Route `edges` again, and the edges passing where cards came, went or moved."""
        edges = set(edges) | {item for rect in rects for item in self.items(rect, Qt.IntersectsItemBoundingRect)
                              if isinstance(item, EdgeItem)}
        for edge in edges:
            edge.update_path()

    def mousePressEvent(self, event) -> None:
        super().mousePressEvent(event)
        if event.button() == Qt.LeftButton and isinstance(self.mouseGrabberItem(), NodeItem):
            self._press_positions = {i: item.pos() for i, item in self.nodes.items() if item.isSelected()}
            for node_id, item in self.nodes.items():   # the dragged nodes pass over the others
                item.setZValue(1 if node_id in self._press_positions else 0)

    def mouseMoveEvent(self, event) -> None:
        super().mouseMoveEvent(event)
        for node_id, start in (self._press_positions or {}).items():
            item = self.nodes.get(node_id)
            if item is not None and item.pos() != start:
                item.setPos(self.snap(item.pos()))
                self.node_moved(item)

    def mouseReleaseEvent(self, event) -> None:
        super().mouseReleaseEvent(event)
        pressed, self._press_positions = self._press_positions, None
        if not pressed:
            return
        moved = {i: (self.nodes[i].x(), self.nodes[i].y()) for i, pos in pressed.items()
                 if i in self.nodes and self.nodes[i].pos() != pos}
        if moved:
            self.reroute([self.nodes[i].sceneBoundingRect() for i in moved]
                         + [self.nodes[i].sceneBoundingRect().translated(pressed[i] - self.nodes[i].pos()) for i in moved])
            arch = self.document.view
            # nodes without a layout entry get one too, so that the fallback column does not shift under them
            unplaced = {i: (item.x(), item.y()) for i, item in self.nodes.items() if i not in arch.layout.nodes}
            self.document.apply_view(move_nodes(arch, {**unplaced, **moved}), "Move" if len(moved) == 1 else
                                f"Move {len(moved)} nodes")

    # helpers for the view, the actions and tests ---------------------------------------
    def add_layer(self, layer_type: str, params: dict | None, at: QPointF) -> str | None:
        """Add a node near `at`, clear of the other cards; returns its id, or None with a message."""
        try:
            arch, layer_type = with_type(self.document.view, layer_type)
            arch, node_id = add_node(arch, layer_type, self.free_corner(layer_type, at, params, arch), params)
        except (EditError, ValueError) as error:
            self.message.emit(f"Cannot add {layer_type}: {error}")
            return None
        self.document.apply_view(arch, f"Add {node_id}")
        self.document.select([node_id])
        return node_id

    def free_corner(self, layer_type: str, at: QPointF, params: dict | None = None,
                    arch: Architecture | None = None) -> tuple[float, float]:
        """Where a new card of that layer goes to be centred near `at` without touching another card (`arch`: the
        document that defines its type, by default the one shown)."""
        node = make_node("new", layer_type, **(params or {}))
        width, height = card_size(node, (arch or self.document.view).spec(node))
        corner = self.snap(at - QPointF(width / 2, style.HEADER_HEIGHT))
        return free_spot((corner.x(), corner.y(), width, height), self.card_rects())

    def contents_rect(self) -> QRectF:
        """What fit-to-view shows: every card and frame (a null rect when there is none)."""
        rects = self.card_rects() + [frame.frame.rect for frame in self.frames]
        if not rects:
            return QRectF()
        x, y, width, height = bounds(rects)
        return QRectF(x, y, width, height)

    def card_rects(self) -> list[tuple[float, float, float, float]]:
        return [item.card_rect() for item in self.nodes.values()]

    def port_item(self, node_id: str, port: str, is_output: bool) -> PortItem | None:
        item = self.nodes.get(node_id)
        return item.port(port, is_output) if item else None

    def contextMenuEvent(self, event) -> None:
        item = self.itemAt(event.scenePos(), self.views()[0].transform()) if self.views() else None
        while item is not None and not isinstance(item, (NodeItem, EdgeItem, FrameItem)):
            item = item.parentItem()
        if isinstance(item, (NodeItem, EdgeItem)) and not item.isSelected():
            self.clearSelection()
            item.setSelected(True)
        menu = self.menu_builder(item, event.scenePos()) if self.menu_builder else None
        if menu is not None:
            menu.exec(event.screenPos())
            event.accept()
