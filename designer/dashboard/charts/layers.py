"""Per layer: a snapshot against depth (a probe's whole story, a training run's latest profiled step): gradient
norms with each layer's health, every layer's output mean ± std, and the dead or saturated share of activations."""
from __future__ import annotations

from functools import partial

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from layerloom.designer import theme

from ..run_store import RunSeries
from . import style
from .base import Chart
from .depth import GradientProfile

EMPTY_TEXT = "Probe (F6) to see every layer at initialization: its gradient, its outputs and its health.\n" \
             "A training run shows its latest profiled step here."
BAR_WIDTH = 0.6


class LayersChart(Chart):
    """Gradient norm of each weighted layer (every run), and for the first run each layer's output mean ± std and
    the share of dead ReLU units or saturated sigmoid/tanh outputs."""

    over_steps = False
    levels = True

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        grid = self.view.ci
        self.grad_plot = style.add_plot(grid, "Gradient norm", "||grad||", "weighted layer (input → output)",
                                        log_y=True, row=0, col=0, layers="bottom")
        self.profile = GradientProfile(self.grad_plot)
        self.output_plot = style.add_plot(grid, "Layer outputs: mean ± std", "value", "layer (input → output)",
                                          row=0, col=1, layers="bottom")
        self.share_plot = style.add_plot(grid, "Dead ReLU units / saturated outputs", "share", "layer (input → output)",
                                         row=0, col=2, layers="bottom")
        self.output_view = style.SteadyView(self.output_plot)
        self.share_view = style.SteadyView(self.share_plot, fixed_y=(0.0, 1.0))
        self.means = style.curve(self.output_plot, style.color("train"), width=2.0)
        self.means.setSymbol("o")
        self.means.setSymbolBrush(style.color("train"))
        self.means.setSymbolPen(None)
        self.spread = pg.ErrorBarItem(pen=style.pen(style.color("train")), beam=0.25)
        self.output_plot.addItem(self.spread)
        outline = style.pen(style.color("health_outline"))
        self.bars = {level: pg.BarGraphItem(x=[], height=[], width=BAR_WIDTH, brush=style.color(level), pen=outline)
                     for level in ("dead", "saturated")}
        for bars in self.bars.values():
            self.share_plot.addItem(bars)
        legend = style.legend(self.share_plot)
        for level, label in (("dead", "dead (ReLU)"), ("saturated", "saturated (sigmoid, tanh)")):
            legend.addItem(self.bars[level], label)
        self.empty = theme.set_role(QLabel(EMPTY_TEXT, alignment=Qt.AlignCenter), "muted")
        self.empty.setStyleSheet("font-size: 11pt;")
        self.box.addWidget(self.empty)

    def pieces(self, runs: list[RunSeries]):
        measured = bool(runs) and (runs[0].latest is not None)
        self.view.setVisible(measured)
        self.empty.setVisible(not measured)
        return [partial(self._show_gradients, runs), partial(self._show_outputs, runs[0] if runs else None)]

    def _show_gradients(self, runs: list[RunSeries]) -> None:
        primary = runs[0] if runs else None
        what = "at initialization" if primary and primary.mode == "probe" else (
            f"at step {primary.latest.step}" if primary and primary.latest else "")
        style.set_title(self.grad_plot, f"Gradient norm {what}".strip())
        self.profile.show(runs, self.level)

    def _show_outputs(self, run: RunSeries | None) -> None:
        stats = run.activations if run else {}
        layers = list(stats)
        x = np.arange(len(layers), dtype=float)
        mean = np.array([s.mean for s in stats.values()], float)
        std = np.array([s.std for s in stats.values()], float)
        self.means.setData(x, mean)
        self.spread.setData(x=x, y=mean, height=2 * std)
        largest = 0.0
        for level, field in (("dead", "dead_fraction"), ("saturated", "saturated_fraction")):
            shares = [(i, getattr(s, field)) for i, s in enumerate(stats.values()) if getattr(s, field) is not None]
            self.bars[level].setOpts(x=[i for i, _ in shares], height=[v for _, v in shares], width=BAR_WIDTH)
            largest = max([largest, *(v for _, v in shares)])
        style.set_title(self.share_plot, f"Dead ReLU units / saturated outputs: at most {largest:.0%}")
        span = (-0.8, max(len(layers), 1) - 0.2)
        for plot, view in ((self.output_plot, self.output_view), (self.share_plot, self.share_view)):
            plot.getAxis("bottom").set_layers(layers)
            view.fixed_x = span
        self.output_view.fit([], [mean - std, mean + std])
        self.share_view.fit([], [])
