"""Frames on the canvas: frame the selection, then rename, recolor or delete a frame from its context menu."""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QInputDialog, QMenu

from layerloom.engine.document import FRAME_COLORS, Frame
from layerloom.engine.layout import FRAME_PAD, FRAME_TITLE
from . import edits
from .canvas import GraphView
from .canvas.frame_item import FrameItem
from .canvas.placement import bounds
from .document import DocumentModel


class FrameActions(QObject):
    """The frame commands of one canvas; each is one undo step."""

    def __init__(self, document: DocumentModel, view: GraphView):
        super().__init__(view)
        self.document, self.view, self.scene = document, view, view.graph_scene()
        self.create = QAction("&Frame Selection", self, shortcut=QKeySequence("Ctrl+J"))
        self.create.setShortcutContext(Qt.WidgetWithChildrenShortcut)
        self.create.triggered.connect(lambda: self.frame_selection())
        view.addAction(self.create)

    def frame_selection(self, title: str = "Frame") -> int | None:
        """Put a new frame behind the selected nodes; returns its index."""
        selected = self.document.selection
        if not selected:
            self.scene.message.emit("Select the nodes to frame first")
            return None
        x, y, width, height = bounds(self.scene.nodes[i].card_rect() for i in selected)
        frames = self.document.view.layout.frames
        color = FRAME_COLORS[(len(frames) + 1) % len(FRAME_COLORS)]
        rect = (x - FRAME_PAD, y - FRAME_TITLE, width + 2 * FRAME_PAD, height + FRAME_TITLE + FRAME_PAD)
        self.document.apply_view(edits.add_frame(self.document.view, Frame(title=title, color=color, rect=rect)),
                            f"Frame {len(selected)} node(s)")
        return len(frames)

    def ask_title(self, current: str) -> str | None:
        title, ok = QInputDialog.getText(self.view, "Rename frame", "Title:", text=current)
        return title if ok else None

    def rename(self, index: int, title: str | None = None) -> None:
        frame = self.document.view.layout.frames[index]
        title = self.ask_title(frame.title) if title is None else title
        if title is not None:
            self._set(index, frame.model_copy(update={"title": title.strip()[:200]}), "Rename frame")

    def recolor(self, index: int, color: str) -> None:
        self._set(index, self.document.view.layout.frames[index].model_copy(update={"color": color}), "Color frame")

    def remove(self, index: int) -> None:
        self._set(index, None, "Delete frame")

    def _set(self, index: int, frame: Frame | None, text: str) -> None:
        self.document.apply_view(edits.set_frame(self.document.view, index, frame), text)

    def menu(self, item: FrameItem) -> QMenu:
        menu = QMenu(self.view)
        menu.addAction("&Rename…", lambda: self.rename(item.index))
        colors = menu.addMenu("&Color")
        for color in FRAME_COLORS:
            colors.addAction(color.capitalize(), lambda c=color: self.recolor(item.index, c))
        menu.addAction("&Delete Frame", lambda: self.remove(item.index))
        return menu
