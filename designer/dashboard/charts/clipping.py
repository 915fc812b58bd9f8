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
    """Is clipping doing the work, and are the updates of each layer a sane size?"""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.norm_plot = style.add_plot(self.view.ci, "Total gradient norm", "||grad||", log_y=True, col=0)
        self.ratio_plot = style.add_plot(self.view.ci, "Update / weight ratio per layer", "||Δw|| / ||w||",
                                         log_y=True, col=1)
        self.views = [style.SteadyView(self.norm_plot, log_y=True), style.SteadyView(self.ratio_plot, log_y=True)]
        self.norm_legend = style.legend(self.norm_plot)
        self.ratio_legend = style.side_legend(self.view.ci, row=0, col=2)
        before, after = style.color("train"), style.color("clipped")
        self.norms = [(style.curve(self.norm_plot, before, None if dashed else "before clipping", dashed=dashed),
                       style.curve(self.norm_plot, after, None if dashed else "after clipping", dashed=dashed))
                      for dashed in (False, True)]
        reference = {"pen": style.pen(style.color("chart_reference"), dashed=True),
                     "labelOpts": {"color": style.color("chart_text"), "position": 0.05}}
        self.limit = pg.InfiniteLine(angle=0, label="max_norm", **reference)
        self.norm_plot.addItem(self.limit)
        reference = pg.InfiniteLine(np.log10(HEALTHY_RATIO), angle=0, label="1e-3", **reference)
        self.ratio_plot.addItem(reference)
        self.ratios: list[style.LayerLines | None] = [None, None]
        self._key = None

    def pieces(self, primary: RunSeries | None, other: RunSeries | None):
        key = tuple((id(run), tuple(run.layers)) if run else None for run in (primary, other))
        if key != self._key:
            for lines in self.ratios:
                if lines is not None:
                    lines.remove()
            self.ratios = [style.LayerLines(self.ratio_plot, run.layers, dashed=slot == 1) if run else None
                           for slot, run in enumerate((primary, other))]
            self.ratio_legend.clear()
            if self.ratios[0] is not None:
                self.ratios[0].list_in(self.ratio_legend)
            self._key = key
        return [partial(self._show_norms, primary, other), partial(self._show_ratios, primary, other)]

    def _show_norms(self, primary: RunSeries | None, other: RunSeries | None) -> None:
        style.set_title(self.norm_plot, clip_summary(primary))
        xs, ys = [], []
        for (before, after), run in zip(self.norms, (primary, other)):
            if run is None:
                before.setData([], [])
                after.setData([], [])
                continue
            xs.append(run.column("step"))
            ys.append(run.column("grad_total"))
            before.setData(xs[-1], style.positive(ys[-1]))
            clipping = bool((run.config or {}).get("grad_clip"))
            after.setData(xs[-1] if clipping else [], style.positive(run.column("grad_clipped")) if clipping else [])
        self.views[0].fit(xs, ys + ([[primary.max_norm]] if primary and primary.max_norm else []))
        self._show_clip_legend(primary is not None and bool((primary.config or {}).get("grad_clip")))
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

    def _show_ratios(self, primary: RunSeries | None, other: RunSeries | None) -> None:
        xs, ys = [], []
        for lines, run in zip(self.ratios, (primary, other)):
            if lines is not None:
                xs.append(run.column("step"))
                ys.append(run.block("ratio"))
                lines.set_data(xs[-1], ys[-1])
        self.views[1].fit(xs, ys)
