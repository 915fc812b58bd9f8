"""Adding a layer where the user looks: the search popup at the cursor, wired to the selection or to the
port a connection was dragged from (the engine says which layers fit that port)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QPointF

from layerloom.engine import Edge
from layerloom.engine.shapes import accepting_layers, feeding_layers
from ..edits import EditError, add_node, connect
from ..layer_search import Choice, choices
from .search_popup import SearchPopup

if TYPE_CHECKING:
    from .view import GraphView


class QuickAdd(QObject):
    """Opens the popup; on a choice, adds the layer at the point and connects it, as one undo step."""

    def __init__(self, view: "GraphView"):
        super().__init__(view)
        self.view, self.scene = view, view.graph_scene()
        self.popup = SearchPopup(view)
        self.popup.chosen.connect(self._on_chosen)
        self._at = QPointF()
        self._wire: tuple[str, str, bool] | None = None      # (node, port, is_output) a connection came from
        self._ports: dict[str, str] = {}                     # layer type -> the new node's port to wire
        self.scene.wire_dropped.connect(self.open_from_port)

    def open_at(self, at: QPointF) -> None:
        """Search at scene point `at`; the layer picked follows the selected node, if one is."""
        self._wire, self._ports = None, {}
        selected = sorted(self.scene.document.selection)
        title = f"Add after {selected[0]}" if len(selected) == 1 else ""
        self._show(at, choices(), title)

    def open_from_port(self, node_id: str, port: str, is_output: bool, at: QPointF) -> None:
        """Search among the layers that fit the port a connection was dragged from and dropped at `at`."""
        self._wire = (node_id, port, is_output)
        if is_output:
            info = self.scene.document.view_shapes.nodes.get(node_id)
            fitting = accepting_layers(info.outputs.get(port) if info else None, port)
        else:
            fitting = feeding_layers(port)
        self._ports = dict(fitting)
        self._show(at, choices(set(self._ports)), f"Connect to {node_id}.{port}")

    def _show(self, at: QPointF, among: list[Choice], title: str) -> None:
        self._at = at
        corner = self.view.viewport().mapToGlobal(self.view.mapFromScene(at))
        self.popup.open(corner, among, title)

    def _on_chosen(self, choice: Choice) -> None:
        document = self.scene.document
        layer_type = choice.entry["type"]
        try:
            arch, new_id = add_node(document.view, layer_type, self.scene.free_corner(layer_type, self._at),
                                    choice.entry["params"])
        except (EditError, ValueError) as error:
            self.scene.message.emit(f"Cannot add {choice.name}: {error}")
            return
        edge = self._edge(arch, new_id)
        if edge is not None:
            try:
                arch = connect(arch, edge)
            except EditError as error:
                self.scene.message.emit(f"Added {new_id} unconnected: {error}")
        document.apply_view(arch, f"Add {new_id}")
        document.select([new_id])

    def _edge(self, arch, new_id: str) -> Edge | None:
        """The connection the new node gets: from the dragged port or the selected node, if there is one."""
        spec = arch.spec(arch.node(new_id))
        if self._wire is not None:
            node_id, port, is_output = self._wire
            if is_output:
                return Edge(source=node_id, source_port=port, target=new_id,
                            target_port=self._ports.get(spec.type, "in"))
            return Edge(source=new_id, source_port=self._ports.get(spec.type, "out"), target=node_id, target_port=port)
        selected = sorted(self.scene.document.selection)
        if len(selected) != 1 or not spec.inputs:
            return None
        outputs = arch.spec(arch.node(selected[0])).outputs
        return Edge(source=selected[0], source_port=outputs[0], target=new_id, target_port=spec.inputs[0].name) \
            if outputs else None
