"""A remedy put to the test: the original and its one-change variant train side by side (same seed, same data),
the charts overlay them, and this row ends with the verdict and a button that makes the variant the document."""
from __future__ import annotations

from html import escape

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from layerloom.designer import theme
from layerloom.engine import Architecture
from layerloom.engine.remedies import REMEDIES
from layerloom.engine.train.compare import verdict

from .run_store import RunSeries


class RemedyTrial(QFrame):
    """Hidden until a remedy is tested; `apply_requested(variant)` when the person keeps the variant."""

    apply_requested = Signal(object)     # Architecture

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        theme.set_role(self, "banner:trial")
        self.kind: str | None = None
        self.variant: Architecture | None = None
        self.runs: list[RunSeries] = []
        self.verdict = ""
        self.label = QLabel(wordWrap=True)
        self.keep = QPushButton("Use the variant", visible=False,
                                toolTip="Make the variant the document (one undoable edit); save it as you like.")
        self.keep.clicked.connect(lambda: self.apply_requested.emit(self.variant))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 6, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.keep)
        self.hide()

    def start(self, kind: str, variant: Architecture, runs: list[RunSeries]) -> None:
        self.kind, self.variant, self.runs = kind, variant, runs
        self.show()
        self.refresh()

    def clear(self) -> None:
        self.kind, self.variant, self.runs, self.verdict = None, None, [], ""
        self.hide()

    def refresh(self) -> None:
        if not self.runs:
            return
        title = escape(REMEDIES[self.kind].title)
        original, variant = self.runs
        if original.running or variant.running:
            self.label.setText(f"<b>Testing: {title}</b>. The original and the variant train side by side, with "
                               "the same seed and data…")
        else:
            self.verdict = verdict(original.summary, variant.summary)
            self.label.setText(f"<b>{title}</b>: {escape(self.verdict)}")
        self.keep.setVisible(variant.status in ("completed", "max_steps"))
