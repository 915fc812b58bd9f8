"""The canvas's commands as QActions with shortcuts: clipboard, duplicate, delete, layout, zoom, context menus."""
from __future__ import annotations

import json

import networkx as nx

from PySide6.QtCore import QMimeData, QObject, QPointF, Qt
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QGraphicsItem, QMenu

from layerloom.engine import DocumentError, Edge, from_dict, make_node
from layerloom.engine.document import is_instance
from layerloom.engine.layout import GAP, auto_layout
from . import edits
from .canvas import GraphView, positions, style
from .canvas.edge_item import EdgeItem
from .canvas.frame_item import FrameItem
from .canvas.geometry import card_size, sizer
from .canvas.placement import bounds, free_spot, push_right
from .canvas.node_item import NodeItem
from .document import DocumentModel
from .frame_actions import FrameActions
from .keyboard_moves import KeyboardMoves
from .layer_search import palette_entries

NODES_MIME = "application/x-layerloom-nodes"


class CanvasActions(QObject):
    """Builds every editing and viewing action for one document and its canvas view."""

    def __init__(self, document: DocumentModel, view: GraphView):
        super().__init__(view)   # lives and dies with its view
        self.document, self.view, self.scene = document, view, view.graph_scene()
        self.undo = document.undo_stack.createUndoAction(self, "&Undo")
        self.undo.setShortcuts(QKeySequence.Undo)
        self.redo = document.undo_stack.createRedoAction(self, "&Redo")
        redo_keys = QKeySequence.keyBindings(QKeySequence.Redo)
        self.redo.setShortcuts(redo_keys + [QKeySequence(k) for k in ("Ctrl+Shift+Z", "Ctrl+Y")
                                            if QKeySequence(k) not in redo_keys])
        self.undo.setProperty("command", "Undo")   # their text names the step: the shortcut sheet reads this
        self.redo.setProperty("command", "Redo")
        canvas = [
            ("cut", "Cu&t", QKeySequence.Cut, self.cut_selection),
            ("copy", "&Copy", QKeySequence.Copy, self.copy_selection),
            ("paste", "&Paste", QKeySequence.Paste, lambda: self.paste_clipboard()),
            ("duplicate", "&Duplicate", "Ctrl+D", self.duplicate_selection),
            ("delete", "&Delete", [QKeySequence(QKeySequence.Delete), QKeySequence("Backspace")], self.delete_selection),
            ("select_all", "Select &All", QKeySequence.SelectAll, self.select_all_nodes),
        ]
        for name, text, keys, slot in canvas:
            action = self._action(text, keys, slot)
            action.setShortcutContext(Qt.WidgetWithChildrenShortcut)   # text fields keep their own Ctrl+C, Delete...
            view.addAction(action)
            setattr(self, name, action)
        self.insert = self._action("&Insert Layer on Connection…", "Ctrl+I", self.choose_insert)
        self.insert.setShortcutContext(Qt.WidgetWithChildrenShortcut)
        view.addAction(self.insert)
        self.auto_layout = self._action("Auto &Layout", "Ctrl+L", self.layout_graph)
        self.zoom_in = self._action("Zoom &In", [QKeySequence(QKeySequence.ZoomIn), QKeySequence("Ctrl+=")],
                                    lambda: view.zoom_by(1.25))
        self.zoom_out = self._action("Zoom &Out", QKeySequence.ZoomOut, lambda: view.zoom_by(0.8))
        self.actual_size = self._action("&Actual Size", "Ctrl+0", view.reset_zoom)
        self.fit = self._action("&Fit to View", "Ctrl+Shift+F", view.fit_to_contents)
        self.fit_key = self._action("Fit to View", "F", view.fit_to_contents)
        self.fit_key.setShortcutContext(Qt.WidgetShortcut)
        view.addAction(self.fit_key)
        self.snap = QAction("&Snap to Grid", self, checkable=True, checked=self.scene.snap_to_grid)
        self.snap.setShortcut(QKeySequence("Ctrl+'"))   # Ctrl+G groups, as in most editors
        self.group = self._action("&Group into Block", "Ctrl+G", self.group_selection)
        self.ungroup = self._action("&Ungroup Block", "Ctrl+Shift+G", self.ungroup_selection)
        for action in (self.group, self.ungroup):
            action.setShortcutContext(Qt.WidgetWithChildrenShortcut)
            view.addAction(action)
        self.snap.toggled.connect(self._on_snap_toggled)
        self.minimap = QAction("&Minimap", self, checkable=True, checked=True)
        self.minimap.setShortcut(QKeySequence("Ctrl+Shift+M"))
        self.minimap.toggled.connect(view.minimap.set_enabled)
        self.search = self._action("&Add Layer…", "Ctrl+K", self.search_layers)
        self.search_key = self._action("Add Layer", "Tab", self.search_layers)
        self.search_key.setShortcutContext(Qt.WidgetShortcut)   # Tab in a text field moves the focus as usual
        view.addAction(self.search_key)
        self.frames = FrameActions(document, view)
        self.keys = KeyboardMoves(document, view)
        self.scene.menu_builder = self.context_menu

    def search_layers(self) -> None:
        """Search the layers at the mouse (or the canvas's middle): Enter adds one, after the selected node."""
        at = self.view.cursor_point()
        self.view.quick_add.open_at(at if at is not None else self.view.center_point())

    def _action(self, text: str, keys, slot) -> QAction:
        action = QAction(text, self)
        if isinstance(keys, list):
            action.setShortcuts(keys)
        else:
            action.setShortcut(QKeySequence(keys))
        action.triggered.connect(lambda: slot())   # slots take no `checked` argument
        return action

    @staticmethod
    def can_paste() -> bool:
        mime = QGuiApplication.clipboard().mimeData()
        return mime is not None and mime.hasFormat(NODES_MIME)

    # clipboard ----------------------------------------------------------------------------------
    def copy_selection(self) -> None:
        if not self._has_selection():
            return
        data = json.dumps(edits.subgraph(self.document.view, self.document.selection))
        mime = QMimeData()
        mime.setData(NODES_MIME, data.encode())
        mime.setText(data)
        QGuiApplication.clipboard().setMimeData(mime)
        self.scene.message.emit(f"Copied {len(self.document.selection)} node(s)")

    def cut_selection(self) -> None:
        if self._has_selection():
            self.copy_selection()
            self._remove(self.document.selection, [], "Cut")

    def paste_clipboard(self, at: QPointF | None = None) -> None:
        """Paste the clipboard's nodes at `at`, else at the mouse when it is over the canvas, else where they were
        copied from; in each case at the nearest place where they touch no other card."""
        if not self.can_paste():
            self.scene.message.emit("Nothing to paste: copy some nodes first")
            return
        try:
            data = json.loads(bytes(QGuiApplication.clipboard().mimeData().data(NODES_MIME).data()))
        except ValueError:
            data = None
        if not isinstance(data, dict):
            self.scene.message.emit("The clipboard does not hold LayerLoom nodes")
            return
        self._insert(data, at if at is not None else self.view.cursor_point(), "Paste")

    def duplicate_selection(self) -> None:
        if self._has_selection():
            self._insert(edits.subgraph(self.document.view, self.document.selection), None, "Duplicate")

    def _has_selection(self) -> bool:
        if not self.document.selection:
            self.scene.message.emit("Select some nodes first")
        return bool(self.document.selection)

    def _insert(self, data: dict, at: QPointF | None, text: str) -> None:
        try:
            part = from_dict(data)
        except DocumentError as error:
            self.scene.message.emit(f"Cannot paste: {error.problems[0]}")
            return
        placed = positions(part)
        x, y, width, height = bounds([(*placed[n.id], *card_size(n, self.document.view.spec(n) or part.spec(n)))
                                      for n in part.nodes] or [(0, 0, 0, 0)])
        corner = (at.x(), at.y()) if at is not None else (x, y)
        free_x, free_y = free_spot((*corner, width, height), self.scene.card_rects())
        try:
            arch, ids = edits.paste(self.document.view, data, (free_x - x, free_y - y))
        except DocumentError as error:
            self.scene.message.emit(f"Cannot paste: {error.problems[0]}")
            return
        self.document.apply_view(arch, f"{text} {len(ids)} node(s)")
        self.document.select(ids)

    # blocks -------------------------------------------------------------------------------------------
    def group_selection(self) -> None:
        """The selected nodes become a new block and one instance of it (undoably), which is selected."""
        if not self._has_selection():
            return
        try:
            arch, instance = edits.group(self.document.view, self.document.selection)
        except edits.EditError as error:
            self.scene.message.emit(f"Cannot group: {error}")
            return
        self.document.apply_view(arch, f"Group {len(self.document.selection)} node(s) into {arch.node(instance).type}")
        self.document.select([instance])

    def ungroup_selection(self) -> None:
        """Each selected instance replaced by its block's nodes (the block stays in the palette)."""
        instances = [i for i in self.document.selection if is_instance(self.document.view.node(i))]
        if not instances:
            self.scene.message.emit("Select a block instance to ungroup")
            return
        arch, new = self.document.view, []
        try:
            for node_id in instances:
                arch, ids = edits.ungroup(arch, node_id)
                new += ids
        except edits.EditError as error:
            self.scene.message.emit(f"Cannot ungroup: {error}")
            return
        self.document.apply_view(arch, f"Ungroup {', '.join(instances)}")
        self.document.select(new)

    # deleting and selecting ----------------------------------------------------------------------
    def delete_selection(self) -> None:
        self._remove(self.document.selection, self.scene.selected_edges(), "Delete")

    def _remove(self, node_ids, edges: list[Edge], text: str) -> None:
        if not node_ids and not edges:
            return
        arch = edits.remove_nodes(edits.disconnect(self.document.view, edges), node_ids)
        what = f"{len(node_ids)} node(s)" if node_ids else f"{len(edges)} connection(s)"
        self.document.apply_view(arch, f"{text} {what}")

    def select_all_nodes(self) -> None:
        self.document.select(n.id for n in self.document.view.nodes)

    def layout_graph(self) -> None:
        canvas = self.view.viewport().size()
        view = self.document.view
        self.document.apply_view(auto_layout(view, sizer(view), (canvas.width(), canvas.height())),
                            "Auto layout")
        self.view.fit_to_contents()

    def _on_snap_toggled(self, checked: bool) -> None:
        self.scene.snap_to_grid = checked

    # inserting ---------------------------------------------------------------------------------------
    def insert_on_edge(self, edge: Edge, entry: dict) -> str | None:
        """Split `edge` with a new node of the palette entry's type and preset params, in the place of the edge's
        target: the target and what follows it move along the flow to make room."""
        arch = self.document.view
        rects = {node_id: item.card_rect() for node_id, item in self.scene.nodes.items()}
        node = make_node("new", entry["type"], **entry["params"])
        width, height = card_size(node, arch.spec(node))
        room = (*rects[edge.target][:2], width, height)
        after = nx.descendants(arch.graph(), edge.target) | {edge.target}
        try:
            arch = edits.move_nodes(arch, push_right(rects, after, room, width + GAP[0]))
            arch, new_id = edits.insert_on_edge(arch, edge, entry["type"], room[:2])
            if entry.get("params"):
                arch = edits.set_params(arch, new_id, entry["params"])
        except edits.EditError as error:
            self.scene.message.emit(f"Cannot insert: {error}")
            return None
        self.document.apply_view(arch, f"Insert {new_id}")
        self.document.select([new_id])
        return new_id

    def choose_insert(self) -> None:
        """Pop up the layers that fit on the selected connection, at its middle."""
        edges = self.scene.selected_edges()
        if len(edges) != 1:
            self.scene.message.emit("Select one connection first (click it)")
            return
        middle = self.scene.edges[edges[0]].midpoint()
        self.insert_menu(edges[0]).exec(self.view.viewport().mapToGlobal(self.view.mapFromScene(middle)))

    def insert_menu(self, edge: Edge) -> QMenu:
        return self._layer_menu(QMenu("&Insert Layer", self.view), lambda e: self.insert_on_edge(edge, e),
                                only_inline=True)

    # context menus --------------------------------------------------------------------------------------
    def context_menu(self, item: QGraphicsItem | None, at: QPointF) -> QMenu:
        menu = QMenu(self.view)
        if isinstance(item, FrameItem):
            return self.frames.menu(item)
        if isinstance(item, EdgeItem):
            menu.addMenu(self.insert_menu(item.edge))
            menu.addAction("&Disconnect", lambda: self._remove([], [item.edge], "Disconnect"))
        elif isinstance(item, NodeItem):
            menu.addActions([self.cut, self.copy, self.duplicate, self.delete, self.frames.create])
            menu.addSeparator()
            menu.addAction(self.group)
            if is_instance(item.node):
                menu.addAction(f"&Edit Block '{item.node.type}'", lambda: self.document.enter(item.node.type))
                menu.addAction(self.ungroup)
        else:
            self._layer_menu(menu.addMenu("&Add Layer"), lambda e: self.scene.add_layer(e["type"], e["params"], at))
            paste = menu.addAction("&Paste Here", lambda: self.paste_clipboard(at))
            paste.setEnabled(self.can_paste())
            menu.addSeparator()
            menu.addActions([self.select_all, self.auto_layout, self.fit])
        return menu

    @staticmethod
    def _layer_menu(menu: QMenu, chosen, only_inline: bool = False) -> QMenu:
        """Fill `menu` with the palette's entries by category; `only_inline` keeps layers with `in` and `out`."""
        from layerloom.engine import REGISTRY
        submenus: dict[str, QMenu] = {}
        for category, name, entry in palette_entries():
            spec = REGISTRY[entry["type"]]
            if only_inline and (spec.input_port("in") is None or "out" not in spec.outputs):
                continue
            if category not in submenus:
                submenus[category] = menu.addMenu(category)
            submenus[category].addAction(name, lambda e=entry: chosen(e))
        return menu
