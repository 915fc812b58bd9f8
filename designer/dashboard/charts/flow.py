"""Gradient flow: each layer's gradient norm over steps, the norm against depth now, and a layer x step heatmap."""
from __future__ import annotations

import math
from functools import partial

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QWidget

from ..run_store import RunSeries
from . import style
from .base import Chart
from .depth import GradientProfile

AXIS_WIDTH = 84


class FlowChart(Chart):
    """Where the gradient goes: per-layer lines (colored by depth, or by run when several are compared), the
    depth profile of every run, and the first run's heatmap; per block copy at the blocks level."""

    levels = True

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        grid = self.view.ci
        self.lines_plot = style.add_plot(grid, "Gradient norm per layer", "||grad||", log_y=True, row=0, col=0)
        self.heat_plot = style.add_plot(grid, "log10 ||grad||, layer × step", "", row=1, col=0, layers="left")
        self.heat_plot.invertY(True)
        self.heat_plot.showGrid(x=False, y=False)
        for plot in (self.lines_plot, self.heat_plot):
            plot.getAxis("left").setWidth(AXIS_WIDTH)     # the two step axes line up
        self.heatmap = pg.ImageItem(axisOrder="col-major")
        self.heat_plot.addItem(self.heatmap)
        self.colorbar = pg.ColorBarItem(colorMap=pg.colormap.get("viridis"), width=12, interactive=False)
        self.colorbar.setImageItem(self.heatmap)
        style.cache(self.colorbar.axis)
        grid.addItem(self.colorbar, row=1, col=1)
        self.profile_plot = style.add_plot(grid, "Gradient flow", "||grad||", "layer (input → output)",
                                           log_y=True, row=0, col=2, rowspan=2, layers="bottom")
        grid.layout.setColumnStretchFactor(0, 3)
        grid.layout.setColumnStretchFactor(2, 2)
        self.lines_view = style.SteadyView(self.lines_plot, log_y=True)
        self.heat_view = style.SteadyView(self.heat_plot)
        self.profile = GradientProfile(self.profile_plot)
        self.legend = style.side_legend(grid, row=0, col=1)
        self._key = None
        self.lines: list[style.LayerLines] = []

    def pieces(self, runs: list[RunSeries]):
        key = self.level, tuple((id(run), tuple(run.names(self.level))) for run in runs)
        if key != self._key:
            self._rebuild(runs)
            self._key = key
        return [partial(self._show_lines, runs), partial(self._show_profile, runs),
                partial(self._show_heatmap, runs[0] if runs else None, len(runs) > 1)]

    def _rebuild(self, runs: list[RunSeries]) -> None:
        for lines in self.lines:
            lines.remove()
        alone = len(runs) == 1
        blocks = any(run.names(self.level) is run.blocks for run in runs)
        style.set_title(self.lines_plot, f"Gradient norm per {'block' if blocks else 'layer'}")
        self.lines = [style.LayerLines(self.lines_plot, run.names(self.level),
                                       None if alone else style.run_color(slot)) for slot, run in enumerate(runs)]
        self.legend.clear()
        if alone:
            self.lines[0].list_in(self.legend)
        layers = runs[0].names(self.level) if runs else []
        self.heat_plot.getAxis("left").set_layers(layers)
        self.heat_view.fixed_y = (0.0, float(max(len(layers), 1)))

    def _show_lines(self, runs: list[RunSeries]) -> None:
        xs, ys = [], []
        for lines, run in zip(self.lines, runs):
            xs.append(run.column("step"))
            ys.append(run.grads(self.level))
            lines.set_data(xs[-1], ys[-1])
        self.lines_view.fit(xs, ys)

    def _show_profile(self, runs: list[RunSeries]) -> None:
        steps = {run.latest.step for run in runs if run.latest}
        at = f" at step {steps.pop()}" if len(steps) == 1 else (" at each run's latest step" if steps else "")
        style.set_title(self.profile_plot, "Gradient flow" + at)
        self.profile.show(runs, self.level)

    def _show_heatmap(self, run: RunSeries | None, compared: bool) -> None:
        style.set_title(self.heat_plot, "log10 ||grad||, layer × step" + (f" of {run.name}" if compared else ""))
        grads = run.grads(self.level) if run else np.empty((0, 0))
        if grads.size == 0:
            self.heatmap.clear()
            return
        image = style.log10(grads)
        finite = image[np.isfinite(image)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        low, high = math.floor(low * 2) / 2, max(math.ceil(high * 2) / 2, math.floor(low * 2) / 2 + 0.5)
        self.heatmap.setImage(image, autoLevels=False)
        if self.colorbar.levels() != (low, high):     # whole half-decades: the color scale seldom moves
            self.colorbar.setLevels((low, high))
        steps = run.column("step")
        first, last = float(steps[0]), float(steps[-1])
        width = (last - first) * len(steps) / max(len(steps) - 1, 1) or 1.0
        self.heatmap.setRect(QRectF(first, 0, width, grads.shape[1]))
        self.heat_view.fit([steps], [])
