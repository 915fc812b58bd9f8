"""Gradient flow: each layer's gradient norm over steps, the norm against depth now, and a layer x step heatmap."""
from __future__ import annotations

import math
from functools import partial

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QWidget

from layerloom.designer.theme import HEALTH_LEVELS

from layerloom.engine.train.diagnosis import VANISHING_RATIO
from ..run_store import RunSeries
from . import style
from .base import Chart

TICKS_MAX = 14         # layer names down the heatmap
TICKS_ACROSS_MAX = 6   # layer names along the profile, where they sit side by side
NAME_CHARS = 12
AXIS_WIDTH = 84


def layer_ticks(layers: list[str], offset: float = 0.0, most: int = TICKS_MAX) -> list[list[tuple[float, str]]]:
    """Axis ticks naming layers (long names shortened), thinned to at most `most`."""
    every = max(1, int(np.ceil(len(layers) / most)))
    short = [name if len(name) <= NAME_CHARS else name[:NAME_CHARS - 1] + "…" for name in layers]
    return [[(index + offset, name) for index, name in enumerate(short) if index % every == 0]]


class FlowChart(Chart):
    """Where the gradient goes: per-layer lines (colored by depth), the depth profile, and the heatmap."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        grid = self.view.ci
        self.lines_plot = style.add_plot(grid, "Gradient norm per layer", "||grad||", log_y=True, row=0, col=0)
        self.heat_plot = style.add_plot(grid, "log10 ||grad||, layer × step", "", row=1, col=0)
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
                                           log_y=True, row=0, col=2, rowspan=2)
        grid.layout.setColumnStretchFactor(0, 3)
        grid.layout.setColumnStretchFactor(2, 2)
        self.lines_view = style.SteadyView(self.lines_plot, log_y=True)
        self.heat_view = style.SteadyView(self.heat_plot)
        self.profile_view = style.SteadyView(self.profile_plot, log_y=True)
        self.legend = style.side_legend(grid, row=0, col=1)
        reference, outline = style.color("chart_reference"), style.color("health_outline")
        self.profiles = [style.curve(self.profile_plot, reference, dashed=dashed) for dashed in (False, True)]
        self.other_dots = pg.ScatterPlotItem(size=9, brush=None, pen=pg.mkPen(reference))
        self.profile_plot.addItem(self.other_dots)
        self.dots = {}      # one item per health level: one brush per item is far cheaper than one per point
        for level in HEALTH_LEVELS:
            self.dots[level] = pg.ScatterPlotItem(size=11, brush=pg.mkBrush(style.color(level)), pen=pg.mkPen(outline))
            self.profile_plot.addItem(self.dots[level])
        self.threshold = pg.InfiniteLine(angle=0, pen=style.pen(reference, dashed=True), label="vanishing below",
                                         labelOpts={"color": style.color("chart_text"), "position": 0.5,
                                                    "anchors": [(0.5, 0), (0.5, 0)]})
        self.profile_plot.addItem(self.threshold, ignoreBounds=True)   # the dots' colors already tell
        self._key = None
        self.lines: list[style.LayerLines | None] = [None, None]

    def pieces(self, primary: RunSeries | None, other: RunSeries | None):
        key = tuple((id(run), tuple(run.layers)) if run else None for run in (primary, other))
        if key != self._key:
            self._rebuild(primary, other)
            self._key = key
        return [partial(self._show_lines, primary, other), partial(self._show_profile, primary, other),
                partial(self._show_heatmap, primary)]

    def _rebuild(self, primary: RunSeries | None, other: RunSeries | None) -> None:
        for lines in self.lines:
            if lines is not None:
                lines.remove()
        self.lines = [style.LayerLines(self.lines_plot, run.layers, dashed=slot == 1) if run else None
                      for slot, run in enumerate((primary, other))]
        self.legend.clear()
        if self.lines[0] is not None:
            self.lines[0].list_in(self.legend)
        layers = primary.layers if primary else []
        self.profile_plot.getAxis("bottom").setTicks(layer_ticks(layers, most=TICKS_ACROSS_MAX))
        self.heat_plot.getAxis("left").setTicks(layer_ticks(layers, 0.5))
        self.profile_view.fixed_x = (-0.8, max(len(layers), 1) - 0.2)   # room for the end labels
        self.heat_view.fixed_y = (0.0, float(max(len(layers), 1)))

    def _show_lines(self, primary: RunSeries | None, other: RunSeries | None) -> None:
        xs, ys = [], []
        for lines, run in zip(self.lines, (primary, other)):
            if lines is not None:
                xs.append(run.column("step"))
                ys.append(run.block("grad"))
                lines.set_data(xs[-1], ys[-1])
        self.lines_view.fit(xs, ys)

    def _show_profile(self, primary: RunSeries | None, other: RunSeries | None) -> None:
        step = primary.latest.step if primary and primary.latest else None
        style.set_title(self.profile_plot, "Gradient flow" + (f" at step {step}" if step is not None else ""))
        ys = []
        for line, run in zip(self.profiles, (primary, other)):
            ys.append(run.latest_grads() if run else np.empty(0))
            line.setData(np.arange(len(ys[-1])), style.positive(ys[-1]))
        self.profile_view.fit([], ys)
        health = primary.health() if primary else {}
        levels = np.array([health[n].level if n in health else "healthy" for n in primary.layers] if primary else [],
                          dtype=object)
        grads = primary.latest_grads() if primary else np.empty(0)
        heights = style.log10(grads)
        for level, dots in self.dots.items():
            chosen = np.flatnonzero((levels == level) & np.isfinite(heights))
            dots.setData(chosen, heights[chosen])
        other_heights = style.log10(other.latest_grads()) if other else np.empty(0)
        chosen = np.flatnonzero(np.isfinite(other_heights))
        self.other_dots.setData(chosen, other_heights[chosen])
        finite = grads[np.isfinite(grads) & (grads > 0)]
        self.threshold.setVisible(finite.size > 1)
        if finite.size > 1:
            self.threshold.setValue(np.log10(VANISHING_RATIO * finite.max()))

    def _show_heatmap(self, run: RunSeries | None) -> None:
        grads = run.block("grad") if run else np.empty((0, 0))
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
