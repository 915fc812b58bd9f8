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


def color_key(bidirectional: bool) -> str:
    """The legend, written into the title: a legend box would hide the curve's end in one direction or the other."""
    shown = DIRECTIONS if bidirectional else DIRECTIONS[:1]
    keys = [f"<span style='color:{style.color(role)}'>━ {label}</span>" for label, role in shown]
    keys.append(f"<span style='color:{style.faded(style.color(DIRECTIONS[0][1]), 0.4).name()}'>━ earlier steps</span>")
    return "&nbsp;&nbsp;".join(keys)


class BpttChart(Chart):
    """One plot per recurrent layer; both directions for bidirectional layers, a compared run dashed."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.empty = theme.set_role(QLabel(EMPTY_TEXT, alignment=Qt.AlignCenter), "muted")
        self.empty.setStyleSheet("font-size: 11pt;")
        self.box.addWidget(self.empty)
        self.plots = {}
        self._keys: dict[str, str] = {}
        self._key = None

    def pieces(self, primary: RunSeries | None, other: RunSeries | None):
        layers = list(primary.recurrent) if primary else []
        both = tuple(is_bidirectional(primary, node) for node in layers)
        key = (id(primary), id(other), tuple(layers), both)
        if key != self._key:
            self._rebuild(layers, both)
            self._key = key
        self.view.setVisible(bool(layers))
        self.empty.setVisible(not layers)
        return [partial(self._show_layer, node, primary, other) for node in self.plots]

    def _show_layer(self, node: str, primary: RunSeries, other: RunSeries | None) -> None:
        plot, view, history, latest, compared = self.plots[node]
        profiles = list(primary.bptt.get(node, ()))
        older = profiles[:-1]
        for pair, profile in zip(history, [None] * (len(history) - len(older)) + older):
            self._set(pair, profile)
        self._set(latest, profiles[-1] if profiles else None)
        theirs = other.bptt.get(node) if other else None
        self._set(compared, theirs[-1] if theirs else None)
        shown = [*profiles, *(theirs[-1:] if theirs else [])]
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

    def _rebuild(self, layers: list[str], both: tuple[bool, ...]) -> None:
        self.view.ci.clear()
        self.plots, self._keys = {}, {}
        for index, (node, bidirectional) in enumerate(zip(layers, both)):
            plot = style.add_plot(self.view.ci, node, "||dL/dh_t||", "time step t", log_y=True,
                                  row=index // COLUMNS, col=index % COLUMNS)
            history = [self._pair(plot, share=0.15 + 0.45 * age / BPTT_KEPT) for age in range(1, BPTT_KEPT)]
            view = style.SteadyView(plot, log_y=True)
            self.plots[node] = (plot, view, history, self._pair(plot, width=2.0), self._pair(plot, dashed=True))
            self._keys[node] = color_key(bidirectional)

    @staticmethod
    def _pair(plot, share: float = 1.0, **pen_options):
        """Forward and reverse lines."""
        return tuple(style.curve(plot, style.faded(style.color(role), share), **pen_options) for _, role in DIRECTIONS)
