"""Clipping and updates: the total gradient norm before and after clipping, and update-to-weight ratios."""
from __future__ import annotations

from functools import partial

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from ..run_store import RunSeries
from . import style
from .base import Chart

HEALTHY_RATIO = 1e-3    # the rule of thumb: each step moves a weight by about a thousandth of itself


def clip_summary(run: RunSeries | None) -> str:
    if run is None or not run.steps_seen:
        return "Total gradient norm"
    if not (run.config or {}).get("grad_clip"):
        return "Total gradient norm (no clipping set)"
    return f"Total gradient norm: clipped in {run.clipped_share:.0%} of {run.steps_seen} logged steps"


class ClippingChart(Chart):
    """Is clipping doing the work, and are the updates of each layer a sane size? Several runs each in their color."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.norm_plot = style.add_plot(self.view.ci, "Total gradient norm", "||grad||", log_y=True, col=0)
        self.ratio_plot = style.add_plot(self.view.ci, "Update / weight ratio per layer", "||Δw|| / ||w||",
                                         log_y=True, col=1)
        self.views = [style.SteadyView(self.norm_plot, log_y=True), style.SteadyView(self.ratio_plot, log_y=True)]
        self.norm_legend = style.legend(self.norm_plot)
        self.ratio_legend = style.side_legend(self.view.ci, row=0, col=2)
        reference = {"pen": style.pen(style.color("chart_reference"), dashed=True),
                     "labelOpts": {"color": style.color("chart_text"), "position": 0.05}}
        self.limit = pg.InfiniteLine(angle=0, label="max_norm", **reference)
        self.norm_plot.addItem(self.limit)
        reference = pg.InfiniteLine(np.log10(HEALTHY_RATIO), angle=0, label="1e-3", **reference)
        self.ratio_plot.addItem(reference)
        self.norms: list[tuple[pg.PlotDataItem, pg.PlotDataItem]] = []
        self.ratios: list[style.LayerLines] = []
        self._key = None

    def pieces(self, runs: list[RunSeries]):
        key = tuple((id(run), tuple(run.layers)) for run in runs)
        if key != self._key:
            self._rebuild(runs)
            self._key = key
        return [partial(self._show_norms, runs), partial(self._show_ratios, runs)]

    def _rebuild(self, runs: list[RunSeries]) -> None:
        for item in (item for pair in self.norms for item in pair):
            self.norm_plot.removeItem(item)
        for lines in self.ratios:
            lines.remove()
        self.norm_legend.clear()
        self.ratio_legend.clear()
        alone = len(runs) == 1
        self.norms = []
        for slot in range(len(runs)):
            before = style.color("train") if alone else style.run_color(slot)
            after = style.color("clipped") if alone else style.run_color(slot)
            self.norms.append((style.curve(self.norm_plot, before), style.curve(self.norm_plot, after, dashed=not alone)))
        self.ratios = [style.LayerLines(self.ratio_plot, run.layers, None if alone else style.run_color(slot))
                       for slot, run in enumerate(runs)]
        if alone:
            self.norm_legend.addItem(self.norms[0][0], "before clipping")
            self.ratios[0].list_in(self.ratio_legend)

    def _show_norms(self, runs: list[RunSeries]) -> None:
        primary = runs[0] if runs else None
        style.set_title(self.norm_plot, clip_summary(primary))
        xs, ys = [], []
        for (before, after), run in zip(self.norms, runs):
            xs.append(run.column("step"))
            ys.append(run.column("grad_total"))
            before.setData(xs[-1], style.positive(ys[-1]))
            clipping = bool((run.config or {}).get("grad_clip"))
            after.setData(xs[-1] if clipping else [], style.positive(run.column("grad_clipped")) if clipping else [])
        self.views[0].fit(xs, ys + ([[primary.max_norm]] if primary and primary.max_norm else []))
        if len(runs) == 1:
            self._show_clip_legend(bool((primary.config or {}).get("grad_clip")))
        limit = primary.max_norm if primary else None
        self.limit.setVisible(bool(limit))
        if limit:
            self.limit.setValue(np.log10(limit))

    def _show_clip_legend(self, clipping: bool) -> None:
        """'after clipping' is only listed when the run clips: otherwise it would equal 'before'."""
        after = self.norms[0][1]
        listed = self.norm_legend.getLabel(after) is not None
        if clipping and not listed:
            self.norm_legend.addItem(after, "after clipping")
        elif listed and not clipping:
            self.norm_legend.removeItem(after)

    def _show_ratios(self, runs: list[RunSeries]) -> None:
        xs, ys = [], []
        for lines, run in zip(self.ratios, runs):
            xs.append(run.column("step"))
            ys.append(run.block("ratio"))
            lines.set_data(xs[-1], ys[-1])
        self.views[1].fit(xs, ys)
