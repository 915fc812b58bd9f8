"""The breadcrumb over the canvas while a block is being edited: 'Document › stage › down', each part a link
back to that level, and a reminder that Escape leaves and that edits change every instance."""
from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel

from .. import theme

if TYPE_CHECKING:
    from .view import GraphView

MARGIN = 12


class Breadcrumb(QFrame):
    """An overlay in the canvas's top-left corner, shown inside a block only."""

    def __init__(self, view: "GraphView"):
        super().__init__(view)
        self.view = view
        self.document = view.graph_scene().document
        self.setObjectName("breadcrumb")
        self.label = QLabel(textFormat=Qt.RichText)
        self.label.linkActivated.connect(lambda depth: self.document.leave(int(depth)))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addWidget(self.label)
        self.document.scope_changed.connect(self.refresh)
        self.document.changed.connect(self.refresh)
        self.document.checked.connect(self.refresh)
        theme.notifier.changed.connect(self._on_theme_changed)
        self.refresh()

    def _on_theme_changed(self, _theme) -> None:
        self.refresh()

    def refresh(self) -> None:
        scope = self.document.scope
        self.setVisible(bool(scope))
        if not scope:
            return
        current = theme.current()
        link = current.roles["link"]
        parts = [f"<a href='{depth}' style='color:{link}'>{escape(name)}</a>"
                 for depth, name in enumerate(["Document", *scope[:-1]])]
        shapes = self.document.shapes
        copies = sum(len(info.copies) for _, node, info in (shapes.paths() if shapes.arch is not None else ())
                     if node.type == scope[-1] and len(info.copies) == getattr(node, "repeat", 0))
        note = f"edits change all {copies} copies" if copies > 1 else "edits change the block"
        self.label.setText(" › ".join(parts + [f"<b>{escape(scope[-1])}</b>"])
                           + f"&nbsp;&nbsp;<span style='color:{current.roles['text_muted']}'>"
                             f"block · {note} · Esc leaves</span>")
        self.setStyleSheet(f"QFrame#breadcrumb {{ background: {current.roles['window']}; "
                           f"border: 1px solid {current.roles['card_border']}; border-radius: 6px; }}")
        self.adjustSize()
        self.move(MARGIN, MARGIN)
        self.raise_()
