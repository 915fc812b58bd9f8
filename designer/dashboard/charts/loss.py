"""Loss and accuracy over training, train against validation; a compared run is drawn dashed."""
from __future__ import annotations

from functools import partial

import numpy as np
from PySide6.QtWidgets import QWidget

from ..run_store import RunSeries
from . import style
from .base import Chart

SERIES = (  # (plot, metric or None for the batch loss, legend, color role)
    (0, None, "batch loss", "batch"),
    (0, "train_loss", "train loss", "train"),
    (0, "val_loss", "val loss", "val"),
    (1, "train_accuracy", "train accuracy", "train"),
    (1, "val_accuracy", "val accuracy", "val"),
)


class LossChart(Chart):
    """Batch loss per logged step with the per-epoch train and validation loss, and accuracy where it applies."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.plots = [style.add_plot(self.view.ci, "Loss", "loss", col=0),
                      style.add_plot(self.view.ci, "Accuracy", "accuracy", col=1)]
        self.views = [style.SteadyView(self.plots[0]), style.SteadyView(self.plots[1], fixed_y=(0.0, 1.0))]
        for plot in self.plots:
            style.legend(plot)
        self.curves = [[self._curve(spec, dashed) for spec in SERIES] for dashed in (False, True)]

    def _curve(self, spec, dashed: bool):
        plot_index, metric, name, role = spec
        plot, color = self.plots[plot_index], style.color(role)
        if metric is None:
            return style.curve(plot, color, None if dashed else name, dashed=dashed)
        item = style.curve(plot, color, None if dashed else name, width=2.0, dashed=dashed)
        item.setSymbol("t" if dashed else "o")
        item.setSymbolSize(6)
        item.setSymbolBrush(color)
        item.setSymbolPen(None)
        return item

    def pieces(self, primary: RunSeries | None, other: RunSeries | None):
        accuracy = any(name.endswith("accuracy") for run in (primary, other) if run for name in run.epoch_metrics)
        self._show_accuracy(accuracy)
        return [partial(self._show_plot, index, primary, other) for index in range(len(self.plots))]

    def _show_accuracy(self, shown: bool) -> None:
        """The accuracy plot takes room only for runs that measure accuracy (classification)."""
        plot = self.plots[1]
        if shown and plot.scene() is None:
            self.view.ci.addItem(plot, row=0, col=1)
        elif not shown and plot.scene() is not None:
            self.view.ci.removeItem(plot)

    def _show_plot(self, index: int, primary: RunSeries | None, other: RunSeries | None) -> None:
        xs, ys = [], []
        for curves, run in zip(self.curves, (primary, other)):
            for item, (plot_index, metric, _, _) in zip(curves, SERIES):
                if plot_index == index:
                    x, y = self._series(run, metric)
                    item.setData(x, y)
                    xs.append(x)
                    ys.append(y)
        self.views[index].fit(xs, ys)

    @staticmethod
    def _series(run: RunSeries | None, metric: str | None) -> tuple[np.ndarray, np.ndarray]:
        if run is None:
            return np.empty(0), np.empty(0)
        if metric is None:
            return run.column("step"), run.column("loss")
        values = run.epoch_metrics.get(metric)
        if not values:
            return np.empty(0), np.empty(0)
        return np.asarray(run.epoch_steps, float), np.asarray(values, float)
