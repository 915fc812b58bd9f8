"""Shared look of the dashboard's plots: colors from the designer's theme, depth colors, helpers for log plots."""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsItem, QSizePolicy

from layerloom.designer import theme

GRID_ALPHA = 0.3
FINE_STEPS = (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)   # the step axis grows by at most a quarter at a time
POINTS_MAX = 8000     # per chart of layer lines: 50 layers show 160 steps each, a dense band either way
GROUPS_MAX = 12      # more layers than this share lines (one per depth band): drawing cost stays flat
DEPTH_MAP = pg.colormap.get("plasma")
READABLE = 3.0     # WCAG contrast of a chart line against the chart


def color(role: str) -> str:
    """A theme role's color; charts are rebuilt when the theme changes."""
    return theme.hex_of(role)


def run_color(index: int) -> str:
    """The color of the index-th of several overlaid runs (the dashboard's legend names them)."""
    colors = theme.current().run_colors
    return colors[index % len(colors)]


def compact(value: float) -> str:
    """0.25, 3.1, 1e-5, 2e+6: short labels for a log axis."""
    if 1e-3 <= abs(value) < 1e4:
        return f"{value:.3g}"
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


class LogAxis(pg.AxisItem):
    """Log ticks that stay readable and cheap to paint: whole decades (every k-th on wide ranges), 1-2-5 steps
    over up to three decades, plain steps below that. pyqtgraph's default also marks 2..9 of every decade, each
    with a label and a grid line, which crowds the axis and dominates repaint time."""

    def logTickValues(self, minVal, maxVal, size, stdTicks):
        span = maxVal - minVal
        if span >= 3:
            step = math.ceil(span / 6)
            return [(step, list(np.arange(math.ceil(minVal / step) * step, maxVal + 1e-9, step)))]
        values = [decade + math.log10(m) for decade in range(math.floor(minVal), math.ceil(maxVal) + 1)
                  for m in (1, 2, 5)]
        values = [v for v in values if minVal <= v <= maxVal]
        if len(values) >= 3:
            return [(None, values)]
        low, high = 10 ** minVal, 10 ** maxVal
        spacing = self.tickSpacing(low, high, size)[0][0]
        linear = np.arange(math.ceil(low / spacing) * spacing, high, spacing)
        return [(None, list(np.log10(linear[linear > 0])))]

    def logTickStrings(self, values, scale, spacing):
        return [compact(10 ** value * scale) for value in values]


class LayerAxis(pg.AxisItem):
    """Layer names along an axis (index i at i + offset), as many as fit its length without overlapping."""

    ROOM = {"left": 15, "right": 15, "top": 80, "bottom": 80}    # pixels a name needs along the axis
    NAME_CHARS = 12

    def __init__(self, orientation: str, offset: float = 0.0):
        super().__init__(orientation)
        self.names: list[str] = []
        self.offset = offset

    def set_layers(self, names: list[str]) -> None:
        short = [n if len(n) <= self.NAME_CHARS else n[:self.NAME_CHARS - 1] + "…" for n in names]
        if short != self.names:
            self.names = short
            self.picture = None
            self.update()

    def tickValues(self, minVal, maxVal, size):
        low, high = sorted((minVal, maxVal))      # an inverted axis (the heatmap's) gives them the other way round
        if not self.names or size <= 0:
            return []
        every = max(1, math.ceil(self.ROOM[self.orientation] * (high - low) / size))
        return [(every, [i + self.offset for i in range(0, len(self.names), every) if low <= i + self.offset <= high])]

    def tickStrings(self, values, scale, spacing):
        return [self.names[int(round(v - self.offset))] for v in values]


def layout_widget() -> pg.GraphicsLayoutWidget:
    """A light GraphicsLayoutWidget that the plots of one tab share."""
    widget = pg.GraphicsLayoutWidget()
    widget.setBackground(color("chart"))
    widget.ci.setContentsMargins(6, 6, 6, 6)
    return widget


def add_plot(layout: pg.GraphicsLayout, title: str, left: str = "", bottom: str = "step", log_y: bool = False,
             row: int | None = None, col: int | None = None, layers: str | None = None, **kwargs) -> pg.PlotItem:
    """A themed plot with a grid, axis labels, optionally a log y axis and layer names along axis `layers`."""
    axes = {"left": LogAxis("left")} if log_y else {}
    if layers:
        axes[layers] = LayerAxis(layers, offset=0.5 if layers == "left" else 0.0)
    plot = layout.addPlot(row=row, col=col, axisItems=axes | kwargs.pop("axisItems", {}), **kwargs)
    set_title(plot, title)
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(color("chart_axis")))
        axis.setTextPen(pg.mkPen(color("chart_text")))
        axis.enableAutoSIPrefix(False)
        cache(axis)
    plot.setLabel("left", left, color=color("chart_text"))
    plot.setLabel("bottom", bottom, color=color("chart_text"))
    plot.showGrid(y=True, alpha=GRID_ALPHA)    # vertical grid lines cost more to paint than they tell
    if not log_y:
        plot.getAxis("left").setStyle(maxTickLevel=0)      # one grid line per label, no minor ones
    plot.setLogMode(y=log_y)
    plot.setMenuEnabled(False)
    return plot


def cache(item: pg.GraphicsObject) -> None:
    """Keep the item's pixels between repaints: axes replay their text (and grid) on every repaint otherwise,
    even when only a curve beside them changed."""
    item.setCacheMode(QGraphicsItem.DeviceCoordinateCache)


def legend(plot: pg.PlotItem, columns: int = 1) -> pg.LegendItem:
    """A legend inside `plot`, for a few fixed lines."""
    item = plot.addLegend(offset=(-8, 8), colCount=columns, labelTextColor=color("chart_text"), labelTextSize="8pt")
    item.setBrush(pg.mkBrush(color("chart")))
    item.setPen(pg.mkPen(color("chart_axis")))
    return item


def side_legend(layout: pg.GraphicsLayout, row: int, col: int) -> pg.LegendItem:
    """A legend in its own cell beside a plot, for the per-layer lines, which fill their plot."""
    item = pg.LegendItem(labelTextColor=color("chart_text"), labelTextSize="8pt", verSpacing=-4)
    item.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Fixed)     # rows stay together at the top
    layout.addItem(item, row=row, col=col)
    layout.layout.setAlignment(item, Qt.AlignTop)
    return item


def depth_colors(count: int) -> list[QColor]:
    """One color per layer along the theme's stretch of plasma, from the input side to the output side."""
    if count == 0:
        return []
    low, high = theme.current().depth_range
    positions = np.linspace(low, high, count) if count > 1 else np.array([low])
    return list(DEPTH_MAP.map(positions, mode="qcolor"))


def faded(line: str, share: float) -> QColor:
    """`line` mixed into the chart's background (an opaque stand-in for transparency, which is slow to paint),
    but never so far that it drops below READABLE contrast."""
    back = color("chart")
    while share < 1 and theme.contrast(theme.mix(line, back, share), back) < READABLE:
        share = min(1.0, share + 0.05)
    return QColor(theme.mix(line, back, share))


def pen(line, width: float = 1.0, dashed: bool = False) -> pg.QtGui.QPen:
    result = pg.mkPen(QColor(line), width=width)
    if dashed:
        result.setStyle(Qt.DashLine)
    result.setCosmetic(True)
    return result


def positive(values: np.ndarray) -> np.ndarray:
    """Values a log axis can show: zero, negative and non-finite ones become gaps."""
    values = np.asarray(values, float)
    return np.where(np.isfinite(values) & (values > 0), values, np.nan)


def log10(values: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10(positive(values))


def curve(plot: pg.PlotItem, line, name: str | None = None, **pen_options) -> pg.PlotDataItem:
    """A line created once and fed with setData; gaps where values are NaN."""
    return plot.plot([], [], pen=pen(line, **pen_options), name=name, connect="finite", skipFiniteCheck=False)


class LayerLines:
    """One line per layer colored by depth (or all in one run's color); with more than GROUPS_MAX layers,
    neighbouring layers share an item (broken between layers), since every item costs a setData and a paint."""

    def __init__(self, plot: pg.PlotItem, layers: list[str], color: str | None = None):
        self.plot = plot
        count = len(layers)
        groups = min(count, GROUPS_MAX)
        self.bounds = np.linspace(0, count, groups + 1).round().astype(int)
        spans = list(zip(self.bounds[:-1], self.bounds[1:]))
        self.items = [curve(plot, line) for line in ([color] * groups if color else depth_colors(groups))]
        self.labels = [layers[start] if end - start == 1 else f"{layers[start]} … {layers[end - 1]}"
                       for start, end in spans]
        self._dots = False

    def list_in(self, legend: pg.LegendItem) -> None:
        """Name each line (or band of layers) in `legend`, replacing what it listed."""
        legend.clear()
        for item, label in zip(self.items, self.labels):
            legend.addItem(item, label)

    def set_data(self, x: np.ndarray, block: np.ndarray) -> None:
        """Show `block` (rows, layers) against `x`; zero and non-finite values leave gaps."""
        stride = max(1, math.ceil(block.size / POINTS_MAX))
        x, block = x[::stride], block[::stride]
        rows = len(x)
        if (rows == 1) != self._dots:    # a probe has one step: a line of one point would not show
            self._dots = rows == 1
            for item in self.items:
                item.setSymbol("o" if self._dots else None)
                item.setSymbolBrush(item.opts["pen"].color())
                item.setSymbolPen(None)
        for item, start, end in zip(self.items, self.bounds[:-1], self.bounds[1:]):
            values = block[:, start:end].T.ravel()
            kept = np.flatnonzero(np.isfinite(values) & (values > 0))
            joined = (np.diff(kept) == 1) & (kept[1:] // max(rows, 1) == kept[:-1] // max(rows, 1))
            item.setData(np.tile(x, end - start)[kept], values[kept], connect=np.append(joined, False))

    def remove(self) -> None:
        for item in self.items:
            self.plot.removeItem(item)


def set_title(plot: pg.PlotItem, text: str) -> None:
    """Retitle only on change: a new title re-lays out the plot."""
    if plot.titleLabel.text != text:
        plot.setTitle(text, color=color("chart_text"), size="10pt")


def flat(arrays: list) -> np.ndarray:
    return np.concatenate([np.asarray(a, float).ravel() for a in arrays]) if arrays else np.empty(0)


def nice_ceiling(value: float, steps=(1, 2, 5, 10)) -> float:
    """The smallest of `steps` times a power of ten that is at least `value` (> 0)."""
    power = 10 ** math.floor(math.log10(value))
    return next(m * power for m in steps if m * power >= value * (1 - 1e-9))


def steady_bounds(values: np.ndarray, log: bool) -> tuple[float, float] | None:
    """A range around `values` in coarse steps, so it stays put while a run adds data."""
    values = np.asarray(values, float).ravel()
    values = values[np.isfinite(values) & (values > 0)] if log else values[np.isfinite(values)]
    if values.size == 0:
        return None
    low, high = float(values.min()), float(values.max())
    if log:
        return math.floor(math.log10(low) * 2) / 2, math.ceil(math.log10(high) * 2) / 2 + (low == high) * 0.5
    step = nice_ceiling((high - low) / 4 or abs(high) or 1.0)
    return math.floor(low / step) * step, math.ceil(high / step) * step + (low == high) * step


class SteadyView:
    """Sets a plot's range itself, in coarse steps, so its axes (slow to redraw: every label is text) change
    only now and then as a run grows. A person's zoom or pan takes over until the plot's 'A' button."""

    def __init__(self, plot: pg.PlotItem, log_y: bool = False, fixed_x=None, fixed_y=None):
        self.plot, self.log_y, self.fixed_x, self.fixed_y = plot, log_y, fixed_x, fixed_y
        self.following, self._target = True, None
        plot.disableAutoRange()
        plot.vb.sigRangeChangedManually.connect(self._on_manual)
        plot.autoBtn.clicked.connect(self._on_auto)

    def fit(self, xs: list, ys: list) -> None:
        """Follow the data of arrays `xs` (steps) and `ys` (values, any shape)."""
        x_range = self.fixed_x or self._x_bounds(flat(xs))
        y_range = self.fixed_y or steady_bounds(flat(ys), self.log_y)
        if not self.following or x_range is None or y_range is None or (x_range, y_range) == self._target:
            return
        self._target = (x_range, y_range)
        self.plot.setRange(xRange=x_range, yRange=y_range, padding=0.02)

    @staticmethod
    def _x_bounds(x) -> tuple[float, float] | None:
        x = np.asarray(x, float)
        x = x[np.isfinite(x)]
        if x.size == 0:
            return None
        low, high = float(x.min()), float(x.max())
        return low, low + nice_ceiling(max(high - low, 1.0), FINE_STEPS)

    def _on_manual(self, *_) -> None:
        self.following = False

    def _on_auto(self) -> None:
        self.following, self._target = True, None
