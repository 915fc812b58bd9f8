"""Values against depth (one point per layer, input side first): the gradient-flow profile the flow and probe
tabs share, with each layer's health (the engine's rules) on its dot."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from layerloom.designer.theme import HEALTH_LEVELS
from layerloom.engine.train.diagnosis import VANISHING_RATIO

from ..run_store import RunSeries
from . import style

class GradientProfile:
    """||grad|| of each weighted layer at the runs' latest step: a line per run (in its color when there are
    several), dots in health colors, and the line below which the first run's layers count as vanishing. `plot` is
    made with layer names along its bottom axis."""

    def __init__(self, plot: pg.PlotItem):
        self.plot = plot
        self.view = style.SteadyView(plot, log_y=True)
        self.slots: list[tuple[pg.PlotDataItem, dict]] = []
        self.threshold = pg.InfiniteLine(angle=0, pen=style.pen(style.color("chart_reference"), dashed=True),
                                         label="vanishing below (1e-3 × the last layer)",
                                         labelOpts={"color": style.color("chart_text"), "position": 0.02,
                                                    "anchors": [(0, 0), (0, 0)]})
        plot.addItem(self.threshold, ignoreBounds=True)
        self._layers = None

    def _slots(self, count: int) -> None:
        for line, dots in self.slots:
            for item in (line, *dots.values()):
                self.plot.removeItem(item)
        outline = pg.mkPen(style.color("health_outline"))
        self.slots = []
        for slot in range(count):
            color = style.color("chart_reference") if count == 1 else style.run_color(slot)
            line = style.curve(self.plot, color, width=1.5)
            dots = {}   # one item per health level: one brush per item is far cheaper than one per point
            for level in HEALTH_LEVELS:
                dots[level] = pg.ScatterPlotItem(size=11, brush=pg.mkBrush(style.color(level)), pen=outline)
                self.plot.addItem(dots[level])
            self.slots.append((line, dots))

    def show(self, runs: list[RunSeries], level: str = "layers") -> None:
        """Draw each run's latest step, one point per layer or, at `level` 'blocks', per block copy."""
        if len(runs) != len(self.slots):
            self._slots(len(runs))
        layers = runs[0].names(level) if runs else []
        if layers != self._layers:
            self.plot.getAxis("bottom").set_layers(layers)
            self.view.fixed_x = (-0.8, max(len(layers), 1) - 0.2)   # room for the end labels
            self._layers = layers
        ys = []
        for (line, dots), run in zip(self.slots, runs):
            grads = run.latest_grads(level)
            ys.append(grads)
            line.setData(np.arange(len(grads)), style.positive(grads))
            health = run.health_at(level)
            levels = np.array([health[n].level if n in health else "healthy" for n in run.names(level)], dtype=object)
            heights = style.log10(grads)
            for level, item in dots.items():
                chosen = np.flatnonzero((levels == level) & np.isfinite(heights))
                item.setData(chosen, heights[chosen])
        self.view.fit([], ys)
        last = ys[0][-1] if ys and len(ys[0]) > 1 else np.nan
        self.threshold.setVisible(bool(np.isfinite(last) and last > 0))
        if self.threshold.isVisible():
            self.threshold.setValue(np.log10(VANISHING_RATIO * last))
