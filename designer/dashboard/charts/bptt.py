"""Gradient through time and position: for each layer that mixes a sequence, the gradient that reaches each
position, newest profile boldest. A recurrent layer has two: ||dL/dh_t|| of its hidden states (BPTT) and
||dL/dx_t|| at its input; an attention layer the second, so an LSTM and a transformer on the same task share axes."""
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
MEASURES = {"h": "||dL/dh_t||", "x": "||dL/dx_t|| at its input"}   # BPTT, and the gradient by position
EMPTY_TEXT = ("No recurrent or attention layer in this run.\nThe gradient through time and position appears here for "
              "RNN, LSTM, GRU and attention layers.")


def profiles(run: RunSeries) -> list[tuple[str, str]]:
    """(node, measure) of each plot of `run`, in graph order: a recurrent layer's BPTT, then each sequence layer's
    gradient by position (a run logged before positions were profiled has BPTT alone)."""
    keys = []
    for node in run.sequence or run.recurrent:
        if node in run.recurrent:
            keys.append((node, "h"))
        if run.sequence:
            keys.append((node, "x"))
    return keys


def kept(run: RunSeries, node: str, measure: str):
    return (run.bptt if measure == "h" else run.positions).get(node)


def is_bidirectional(run: RunSeries, node: str) -> bool:
    kept_profiles = run.bptt.get(node)
    return bool(kept_profiles) and kept_profiles[-1].reverse is not None


def color_key(bidirectional: bool, alone: bool, measure: str = "h") -> str:
    """The legend, written into the title: a legend box would hide the curve's end in one direction or the other."""
    shown = DIRECTIONS if bidirectional else (("forward" if measure == "h" else "latest", DIRECTIONS[0][1]),)
    if not alone:      # runs in their colors (the dashboard names them), reverse dashed
        return "&nbsp;&nbsp;".join(f"{'╌' if label == 'reverse' else '━'} {label}" for label, _ in shown)
    keys = [f"<span style='color:{style.color(role)}'>━ {label}</span>" for label, role in shown]
    keys.append(f"<span style='color:{style.faded(style.color(DIRECTIONS[0][1]), 0.4).name()}'>━ earlier steps</span>")
    return "&nbsp;&nbsp;".join(keys)


class BpttChart(Chart):
    """One plot per profile of the first run, both directions for bidirectional layers' BPTT; the other runs'
    latest profile of the same measure at the same position among their layers drawn over it in their colors."""

    over_steps = False    # a profile runs over the positions of one step: a probe has one too

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.empty = theme.set_role(QLabel(EMPTY_TEXT, alignment=Qt.AlignCenter), "muted")
        self.empty.setStyleSheet("font-size: 11pt;")
        self.box.addWidget(self.empty)
        self.plots = {}
        self._keys: dict[tuple[str, str], str] = {}
        self._key = None

    def pieces(self, runs: list[RunSeries]):
        primary = runs[0] if runs else None
        shown = profiles(primary) if primary else []
        both = tuple(measure == "h" and is_bidirectional(primary, node) for node, measure in shown)
        key = (tuple(id(run) for run in runs), tuple(shown), both)
        if key != self._key:
            self._rebuild(shown, both, len(runs))
            self._key = key
        self.view.setVisible(bool(shown))
        self.empty.setVisible(not shown)
        return [partial(self._show, plot_key, runs) for plot_key in self.plots]

    def _show(self, plot_key: tuple[str, str], runs: list[RunSeries]) -> None:
        node, measure = plot_key
        plot, view, history, latest = self.plots[plot_key]
        mine = list(kept(runs[0], node, measure) or ())
        older = mine[:-1]
        for pair, profile in zip(history, [None] * (len(history) - len(older)) + older):
            self._set(pair, profile)
        index = [key for key in profiles(runs[0]) if key[1] == measure].index(plot_key)
        shown = list(mine)
        for pair, run in zip(latest, runs):
            same = [key for key in profiles(run) if key[1] == measure]
            theirs = kept(run, *same[index]) if index < len(same) else None
            self._set(pair, theirs[-1] if theirs else None)
            shown += list(theirs or ())[-1:]
        values = [v for p in shown for v in (p.forward, p.reverse) if v is not None]
        view.fit([np.arange(max((len(v) for v in values), default=1))], values)
        step = f" at step {mine[-1].step}" if mine else " (waiting for a profiled step)"
        style.set_title(plot, f"{node}: {MEASURES[measure]}{step}&nbsp;&nbsp;&nbsp;{self._keys[plot_key]}")

    @staticmethod
    def _set(pair, profile) -> None:
        forward, reverse = pair
        values = [profile.forward, profile.reverse] if profile is not None else [None, None]
        for item, series in zip((forward, reverse), values):
            series = np.empty(0) if series is None else series
            item.setData(np.arange(len(series)), style.positive(series))

    def _rebuild(self, shown: list[tuple[str, str]], both: tuple[bool, ...], count: int) -> None:
        self.view.ci.clear()
        self.plots, self._keys = {}, {}
        alone = count == 1
        for index, ((node, measure), bidirectional) in enumerate(zip(shown, both)):
            axis = "time step t" if measure == "h" else "position t"
            plot = style.add_plot(self.view.ci, node, MEASURES[measure], axis, log_y=True,
                                  row=index // COLUMNS, col=index % COLUMNS)
            ages = range(1, BPTT_KEPT) if alone else ()
            history = [self._pair(plot, share=0.15 + 0.45 * age / BPTT_KEPT) for age in ages]
            latest = [self._pair(plot, width=2.0) if alone else self._pair(plot, style.run_color(slot), width=2.0)
                      for slot in range(count)]
            self.plots[(node, measure)] = (plot, style.SteadyView(plot, log_y=True), history, latest)
            self._keys[(node, measure)] = color_key(bidirectional, alone, measure)

    @staticmethod
    def _pair(plot, color: str | None = None, share: float = 1.0, **pen_options):
        """Forward and reverse lines: in the directions' colors, or both in one run's color with reverse dashed."""
        if color is not None:
            return style.curve(plot, color, **pen_options), style.curve(plot, color, dashed=True, **pen_options)
        return tuple(style.curve(plot, style.faded(style.color(role), share), **pen_options) for _, role in DIRECTIONS)
