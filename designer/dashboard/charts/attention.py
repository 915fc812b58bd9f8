"""Attention maps: what each attention layer looks at on the run's first probe sample, one head (or their mean) at
one profiled step, chosen with the layer, head and step selectors; positions are named by their tokens."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QWidget

from layerloom.designer import theme
from layerloom.designer.pictures import MAPS_COLORMAP

from ..run_store import AttentionMaps, RunSeries
from . import style
from .base import Chart

MEAN = "mean of the heads"
EMPTY_TEXT = ("No attention layer in this run.\nAttention maps appear here for multi-head attention and transformer "
              "encoder layers, at every profiled step.")


def head_image(maps: AttentionMaps, head: int | None) -> np.ndarray:
    """(T_q, T_k) weights of one head, or their mean over the heads when `head` is None."""
    return maps.weights.mean(axis=0) if head is None else maps.weights[head]


class TokenAxis(style.LayerAxis):
    """Positions named by their tokens (index i at i + 0.5, the middle of its row or column of the map), as many
    as fit; plain numbers where the positions are not tokens."""

    def set_tokens(self, tokens: list[str] | None, count: int) -> None:
        names = [token.replace("<pad>", "·") for token in tokens] if tokens else [str(i) for i in range(count)]
        longest = max((len(name) for name in names), default=1)
        self.ROOM = {**self.ROOM, "bottom": 7 * min(longest, self.NAME_CHARS) + 6, "left": 14}
        self.set_layers(names)


class AttentionChart(Chart):
    """The first run's attention maps as a heatmap (query positions down, key positions across), with selectors for
    the layer, the head and the profiled step (which follows the newest until moved back)."""

    over_steps = False    # a probe has its maps too

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.layer_box, self.head_box = (QComboBox(sizeAdjustPolicy=QComboBox.AdjustToContents) for _ in range(2))
        self.step_slider = QSlider(Qt.Horizontal, minimumWidth=160)
        self.step_label = theme.set_role(QLabel(), "muted")
        controls = QWidget()
        row = QHBoxLayout(controls)
        row.setContentsMargins(6, 2, 6, 2)
        for text, widget in (("Layer", self.layer_box), ("Head", self.head_box), ("Step", self.step_slider)):
            row.addWidget(QLabel(text))
            row.addWidget(widget, 1 if widget is self.step_slider else 0)
        row.addWidget(self.step_label)
        self.box.insertWidget(0, controls)
        self.controls = controls
        self.empty = theme.set_role(QLabel(EMPTY_TEXT, alignment=Qt.AlignCenter), "muted")
        self.empty.setStyleSheet("font-size: 11pt;")
        self.box.addWidget(self.empty)
        self.plot = style.add_plot(self.view.ci, "", "query position", "key position",
                                   axisItems={"left": TokenAxis("left", 0.5), "bottom": TokenAxis("bottom", 0.5)})
        self.plot.invertY(True)
        self.plot.showGrid(x=False, y=False)
        self.plot.setAspectLocked(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.colorbar = pg.ColorBarItem(colorMap=pg.colormap.get(MAPS_COLORMAP), width=12, interactive=False)
        self.colorbar.setImageItem(self.image)
        self.view.ci.addItem(self.colorbar, row=0, col=1)
        self.runs: list[RunSeries] = []
        self.following = True       # the step slider stays on the newest map until a person moves it back
        self.layer_box.currentIndexChanged.connect(self._on_choice_changed)
        self.head_box.currentIndexChanged.connect(self._on_choice_changed)
        self.step_slider.valueChanged.connect(self._on_step_moved)

    # selections ----------------------------------------------------------------
    @property
    def layer(self) -> str | None:
        return self.layer_box.currentText() or None

    @property
    def head(self) -> int | None:
        """The head shown, or None for the mean of the heads."""
        index = self.head_box.currentIndex()
        return None if index <= 0 else index - 1

    def kept(self) -> list[AttentionMaps]:
        run = self.runs[0] if self.runs else None
        return list(run.attention[self.layer].items) if run and self.layer in run.attention else []

    def _on_step_moved(self, value: int) -> None:
        self.following = value >= self.step_slider.maximum()
        self._draw()

    def _on_choice_changed(self, _index: int) -> None:
        self._draw()

    # drawing -------------------------------------------------------------------
    def pieces(self, runs: list[RunSeries]):
        self.runs = runs
        return [self._refresh]

    def _refresh(self) -> None:
        run = self.runs[0] if self.runs else None
        layers = list(run.attention_layers or run.attention) if run else []
        self.controls.setVisible(bool(layers))
        self.view.setVisible(bool(layers))
        self.empty.setVisible(not layers)
        self._set_items(self.layer_box, layers)
        kept = self.kept()
        heads = kept[-1].weights.shape[0] if kept else 0
        self._set_items(self.head_box, [MEAN, *(f"head {h + 1}" for h in range(heads))])
        self.step_slider.blockSignals(True)
        self.step_slider.setMaximum(max(len(kept) - 1, 0))
        if self.following:
            self.step_slider.setValue(self.step_slider.maximum())
        self.step_slider.blockSignals(False)
        self._draw()

    @staticmethod
    def _set_items(box: QComboBox, items: list[str]) -> None:
        if [box.itemText(i) for i in range(box.count())] != items:
            box.blockSignals(True)
            chosen = box.currentText()
            box.clear()
            box.addItems(items)
            box.setCurrentIndex(max(items.index(chosen) if chosen in items else 0, 0))
            box.blockSignals(False)

    def shown(self) -> AttentionMaps | None:
        """The maps at the slider's step."""
        kept = self.kept()
        return kept[min(self.step_slider.value(), len(kept) - 1)] if kept else None

    def _draw(self) -> None:
        maps = self.shown()
        if maps is None:
            self.image.clear()
            self.step_label.setText("waiting for a profiled step")
            style.set_title(self.plot, "")
            return
        image = head_image(maps, self.head)
        self.image.setImage(image, autoLevels=False)
        self.colorbar.setLevels((0.0, max(float(image.max()), 1e-6)))
        steps, keys = image.shape
        self.plot.getAxis("left").set_tokens(maps.queries, steps)
        self.plot.getAxis("bottom").set_tokens(maps.keys, keys)
        self.plot.setRange(xRange=(0, keys), yRange=(0, steps), padding=0)
        entropy = np.mean(maps.entropy) if self.head is None else maps.entropy[self.head]
        when = "at initialization" if self.runs[0].mode == "probe" else f"at step {maps.step}"
        self.step_label.setText(when)
        which = "mean of the heads" if self.head is None else f"head {self.head + 1}"
        style.set_title(self.plot, f"{self.layer}, {which}, {when}: entropy {entropy:.2f} of its maximum "
                                   "(0: one key per query, 1: all alike)")
