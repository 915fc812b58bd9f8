"""Backpropagation through time: ||dL/dh_t|| against t for each recurrent layer, newest profile boldest."""
from __future__ import annotations

from functools import partial

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from layerloom.designer import theme

from ..run_store import BPTT_KEPT, RunSeries
from . import style
from .base import Chart

COLUMNS = 2
DIRECTIONS = (("forward", "train"), ("reverse", "val"))   # (label, color role)
EMPTY_TEXT = "No recurrent layer in this run.\nBPTT profiles appear here for RNN, LSTM and GRU layers."


def is_bidirectional(run: RunSeries, node: str) -> bool:
    profiles = run.bptt.get(node)
    return bool(profiles) and profiles[-1].reverse is not None


def color_key(bidirectional: bool, alone: bool) -> str:
    """The legend, written into the title: a legend box would hide the curve's end in one direction or the other."""
    shown = DIRECTIONS if bidirectional else DIRECTIONS[:1]
    if not alone:      # runs in their colors (the dashboard names them), reverse dashed
        return "&nbsp;&nbsp;".join(f"{'━' if label == 'forward' else '╌'} {label}" for label, _ in shown)
    keys = [f"<span style='color:{style.color(role)}'>━ {label}</span>" for label, role in shown]
    keys.append(f"<span style='color:{style.faded(style.color(DIRECTIONS[0][1]), 0.4).name()}'>━ earlier steps</span>")
    return "&nbsp;&nbsp;".join(keys)


class BpttChart(Chart):
    """One plot per recurrent layer of the first run, both directions for bidirectional layers; the other runs'
    latest profiles of their recurrent layer at the same position drawn over it in their colors."""

    over_steps = False    # a profile runs over time steps within one step: a probe has one too

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.empty = theme.set_role(QLabel(EMPTY_TEXT, alignment=Qt.AlignCenter), "muted")
        self.empty.setStyleSheet("font-size: 11pt;")
        self.box.addWidget(self.empty)
        self.plots = {}
        self._keys: dict[str, str] = {}
        self._key = None

    def pieces(self, runs: list[RunSeries]):
        primary = runs[0] if runs else None
        layers = list(primary.recurrent) if primary else []
        both = tuple(is_bidirectional(primary, node) for node in layers)
        key = (tuple(id(run) for run in runs), tuple(layers), both)
        if key != self._key:
            self._rebuild(layers, both, len(runs))
            self._key = key
        self.view.setVisible(bool(layers))
        self.empty.setVisible(not layers)
        return [partial(self._show_layer, index, node, runs) for index, node in enumerate(self.plots)]

    def _show_layer(self, index: int, node: str, runs: list[RunSeries]) -> None:
        plot, view, history, latest = self.plots[node]
        profiles = list(runs[0].bptt.get(node, ()))
        older = profiles[:-1]
        for pair, profile in zip(history, [None] * (len(history) - len(older)) + older):
            self._set(pair, profile)
        shown = list(profiles)
        for pair, run in zip(latest, runs):
            same = run.recurrent[index] if index < len(run.recurrent) else None
            theirs = run.bptt.get(same) if same else None
            self._set(pair, theirs[-1] if theirs else None)
            shown += list(theirs or ())[-1:]
        values = [v for p in shown for v in (p.forward, p.reverse) if v is not None]
        view.fit([np.arange(max((len(v) for v in values), default=1))], values)
        step = f" at step {profiles[-1].step}" if profiles else " (waiting for a logged step)"
        style.set_title(plot, f"{node}: ||dL/dh_t||{step}&nbsp;&nbsp;&nbsp;{self._keys[node]}")

    @staticmethod
    def _set(pair, profile) -> None:
        forward, reverse = pair
        values = [profile.forward, profile.reverse] if profile is not None else [None, None]
        for item, series in zip((forward, reverse), values):
            series = np.empty(0) if series is None else series
            item.setData(np.arange(len(series)), style.positive(series))

    def _rebuild(self, layers: list[str], both: tuple[bool, ...], count: int) -> None:
        self.view.ci.clear()
        self.plots, self._keys = {}, {}
        alone = count == 1
        for index, (node, bidirectional) in enumerate(zip(layers, both)):
            plot = style.add_plot(self.view.ci, node, "||dL/dh_t||", "time step t", log_y=True,
                                  row=index // COLUMNS, col=index % COLUMNS)
            ages = range(1, BPTT_KEPT) if alone else ()
            history = [self._pair(plot, share=0.15 + 0.45 * age / BPTT_KEPT) for age in ages]
            latest = [self._pair(plot, width=2.0) if alone else self._pair(plot, style.run_color(slot), width=2.0)
                      for slot in range(count)]
            self.plots[node] = (plot, style.SteadyView(plot, log_y=True), history, latest)
            self._keys[node] = color_key(bidirectional, alone)

    @staticmethod
    def _pair(plot, color: str | None = None, share: float = 1.0, **pen_options):
        """Forward and reverse lines: in the directions' colors, or both in one run's color with reverse dashed."""
        if color is not None:
            return style.curve(plot, color, **pen_options), style.curve(plot, color, dashed=True, **pen_options)
        return tuple(style.curve(plot, style.faded(style.color(role), share), **pen_options) for _, role in DIRECTIONS)
