"""Loss and accuracy over training, train against validation; several runs each in their run color."""
from __future__ import annotations

from functools import partial

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from ..run_store import RunSeries
from . import style
from .base import Chart

SERIES = (  # (plot, metric or None for the batch loss, legend, color role of a lone run, dashed when compared)
    (0, None, "batch loss", "batch", False),
    (0, "train_loss", "train loss", "train", False),
    (0, "val_loss", "val loss", "val", True),
    (1, "train_accuracy", "train accuracy", "train", False),
    (1, "val_accuracy", "val accuracy", "val", True),
)


class LossChart(Chart):
    """Batch loss per logged step with the per-epoch train and validation loss, and accuracy where it applies.
    One run: train and val in their own colors. Several: each run in its color, val dashed."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.plots = [style.add_plot(self.view.ci, "Loss", "loss", col=0),
                      style.add_plot(self.view.ci, "Accuracy", "accuracy", col=1)]
        self.views = [style.SteadyView(self.plots[0]), style.SteadyView(self.plots[1], fixed_y=(0.0, 1.0))]
        self.legends = [style.legend(plot) for plot in self.plots]
        self.curves: list[list[pg.PlotDataItem]] = []
        self._count = None

    def _rebuild(self, count: int) -> None:
        for curves in self.curves:
            for item, (plot_index, *_) in zip(curves, SERIES):
                self.plots[plot_index].removeItem(item)
        for legend in self.legends:
            legend.clear()
        self.curves = [[self._curve(spec, slot, count) for spec in SERIES] for slot in range(count)]
        if count > 1:      # the dashboard names the runs; the legends say which line style is which series
            for plot_index, metric, name, _, dashed in SERIES:
                if metric is not None:
                    sample = pg.PlotDataItem(pen=style.pen(style.color("chart_text"), 2.0, dashed))
                    self.legends[plot_index].addItem(sample, name)
        self._count = count

    def _curve(self, spec, slot: int, count: int) -> pg.PlotDataItem:
        plot_index, metric, name, role, dashed = spec
        plot, alone = self.plots[plot_index], count == 1
        color = style.color(role) if alone else style.run_color(slot)
        label = name if alone else None
        if metric is None:
            return style.curve(plot, color if alone else style.faded(color, 0.45), label)
        item = style.curve(plot, color, label, width=2.0, dashed=dashed and not alone)
        item.setSymbol("t" if dashed and not alone else "o")
        item.setSymbolSize(6)
        item.setSymbolBrush(color)
        item.setSymbolPen(None)
        return item

    def pieces(self, runs: list[RunSeries]):
        if len(runs) != self._count:
            self._rebuild(len(runs))
        accuracy = any(name.endswith("accuracy") for run in runs for name in run.epoch_metrics)
        self._show_accuracy(accuracy)
        return [partial(self._show_plot, index, runs) for index in range(len(self.plots))]

    def _show_accuracy(self, shown: bool) -> None:
        """The accuracy plot takes room only for runs that measure accuracy (classification)."""
        plot = self.plots[1]
        if shown and plot.scene() is None:
            self.view.ci.addItem(plot, row=0, col=1)
        elif not shown and plot.scene() is not None:
            self.view.ci.removeItem(plot)

    def _show_plot(self, index: int, runs: list[RunSeries]) -> None:
        xs, ys = [], []
        for curves, run in zip(self.curves, runs):
            for item, (plot_index, metric, *_) in zip(curves, SERIES):
                if plot_index == index:
                    x, y = self._series(run, metric)
                    item.setData(x, y)
                    xs.append(x)
                    ys.append(y)
        self.views[index].fit(xs, ys)

    @staticmethod
    def _series(run: RunSeries, metric: str | None) -> tuple[np.ndarray, np.ndarray]:
        if metric is None:
            return run.column("step"), run.column("loss")
        values = run.epoch_metrics.get(metric)
        if not values:
            return np.empty(0), np.empty(0)
        return np.asarray(run.epoch_steps, float), np.asarray(values, float)
