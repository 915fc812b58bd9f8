"""Base of the chart tabs: plots in one GraphicsLayoutWidget, updated in small pieces, for one run or several."""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from layerloom.designer import theme

from ..run_store import RunSeries
from . import style

Piece = Callable[[], None]
PROBE_NOTICE = ("A probe measures one step at initialization, so it has no history to draw here.\n"
                "Its per-layer snapshot is in the Probe tab.")


class Chart(QWidget):
    """A tab of plots. `pieces()` splits an update into steps of about one plot each, so the dock can run them
    in separate turns of the event loop and no single step (or the repaint it causes) blocks input for long.
    Several runs are overlaid, each in its run color; a chart over steps shows a notice instead of probes."""

    over_steps = True
    levels = False       # whether it can draw per block copy: `level` is then 'layers' or 'blocks'
    level = "layers"

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.view = style.layout_widget()
        self.notice = theme.set_role(QLabel(PROBE_NOTICE, alignment=Qt.AlignCenter, visible=False), "muted")
        self.notice.setStyleSheet("font-size: 11pt;")
        self.box = QVBoxLayout(self)
        self.box.setContentsMargins(0, 0, 0, 0)
        self.box.addWidget(self.view)
        self.box.addWidget(self.notice)

    def frame(self, runs: list[RunSeries]) -> list[Piece]:
        """The pieces that draw `runs`, or none (and the notice) for probes on a chart over steps."""
        probes = self.over_steps and bool(runs) and all(run.mode == "probe" for run in runs)
        self.notice.setVisible(probes)
        self.view.setVisible(not probes)
        return [] if probes else self.pieces(runs)

    def pieces(self, runs: list[RunSeries]) -> list[Piece]:
        raise NotImplementedError

    def show_runs(self, *runs: RunSeries) -> None:
        """Update every plot now."""
        for piece in self.frame(list(runs)):
            piece()
