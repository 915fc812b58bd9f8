"""Base of the chart tabs: plots in one GraphicsLayoutWidget, updated in small pieces."""
from __future__ import annotations

from typing import Callable

from PySide6.QtWidgets import QVBoxLayout, QWidget

from ..run_store import RunSeries
from . import style

Piece = Callable[[], None]


class Chart(QWidget):
    """A tab of plots. `pieces()` splits an update into steps of about one plot each, so the dock can run them
    in separate turns of the event loop and no single step (or the repaint it causes) blocks input for long."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.view = style.layout_widget()
        self.box = QVBoxLayout(self)
        self.box.setContentsMargins(0, 0, 0, 0)
        self.box.addWidget(self.view)

    def pieces(self, primary: RunSeries | None, other: RunSeries | None) -> list[Piece]:
        raise NotImplementedError

    def show_runs(self, primary: RunSeries | None, other: RunSeries | None = None) -> None:
        """Update every plot now."""
        for piece in self.pieces(primary, other):
            piece()
