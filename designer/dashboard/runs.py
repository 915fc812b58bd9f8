"""The Runs tab: the run folders (the open document's first, filterable), open or compare runs in the charts,
evaluate a run (metrics and a confusion-matrix heatmap), sample from it."""
from __future__ import annotations

import json
import math
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QPlainTextEdit,
                               QSizePolicy, QSplitter, QToolButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from layerloom.engine.remedies import base_name
from layerloom.engine.train.events import STATUS_TEXT

from .confusion import ConfusionMatrix
from .process import EngineProcess, engine_command
from .run_files import RunInfo, list_runs

COLUMNS = ("Run", "Document", "Status", "Step", "Val loss", "Val accuracy")
METRICS_WIDTH = 150     # the metrics beside a confusion matrix


def metric_text(metrics: dict, key: str) -> str:
    value = metrics.get(key)
    if value is None:
        return ""
    return f"{value:.1%}" if "accuracy" in key and math.isfinite(value) else f"{value:.4g}"


def ordered(runs: list[RunInfo], document: str) -> list[RunInfo]:
    """The runs of `document` and its variants first, each group newest first (as listed)."""
    return sorted(runs, key=lambda info: base_name(info.document) != base_name(document))


class RunsView(QWidget):
    """Lists `runs_dir`; `show_requested(folders, add)` asks the dock to chart runs (added to those shown)."""

    show_requested = Signal(list, bool)
    predict_requested = Signal(object)   # a run folder: its model answers the person's own inputs

    def __init__(self, runs_dir: Path | None = None, document: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.runs_dir, self.document = runs_dir, document
        self.active: set[Path] = set()
        self.filter = QLineEdit(placeholderText="Filter runs by name or document…", clearButtonEnabled=True)
        self.filter.textChanged.connect(self._apply_filter)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.setRootIsDecorated(False)
        self.tree.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.tree.header().setSectionResizeMode(0, QHeaderView.Stretch)
        self.tree.header().setSectionResizeMode(1, QHeaderView.Stretch)
        self.tree.itemDoubleClicked.connect(lambda *_: self._open())
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        self.buttons = {}
        buttons = QHBoxLayout()
        for name, tip, slot in (
            ("Open", "Show this run in the charts.", self._open),
            ("Compare", "Overlay the selected runs, each in its color; one selected: add it to the runs shown.",
             self._compare),
            ("Evaluate", "Validation metrics and, for classification, the confusion matrix.", self._evaluate),
            ("Sample", "Generate from a trained generative model (text, sequences).", self._sample),
            ("Predict", "Ask the trained model about your own images, photos or sentences.", self._predict),
            ("Refresh", "Read the runs folder again.", self.refresh),
        ):
            button = QToolButton(text=name, toolTip=tip)     # as wide as its word: the list keeps its room
            button.clicked.connect(slot)
            buttons.addWidget(button)
            self.buttons[name] = button
        buttons.addStretch(1)
        self.result_title = QLabel()
        self.result_title.setStyleSheet("font-weight: 600;")
        self.output = QPlainTextEdit(readOnly=True)
        self.output.setPlaceholderText("Evaluate or sample a run to see its output here.")
        self.matrix: ConfusionMatrix | None = None
        self.results_layout = QHBoxLayout()      # the matrix, when there is one, then the metrics beside it
        self.results_layout.addWidget(self.output)
        self.splitter = QSplitter(Qt.Horizontal)
        self.splitter.addWidget(self._column(self.filter, self.tree, buttons))
        self.splitter.addWidget(self._column(self.result_title, self.results_layout))
        for index in range(2):     # half each to start, whatever width the run list's columns would like
            self.splitter.widget(index).setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
            self.splitter.setStretchFactor(index, 1)
        QVBoxLayout(self).addWidget(self.splitter)
        self._process: EngineProcess | None = None
        self._text: list[str] = []
        self.refresh()

    @staticmethod
    def _column(*parts) -> QWidget:
        widget = QWidget()
        layout = QVBoxLayout(widget)
        layout.setContentsMargins(0, 0, 0, 0)
        for part in parts:
            (layout.addLayout if isinstance(part, QHBoxLayout) else layout.addWidget)(part, part is parts[-1])
        return widget

    # listing -----------------------------------------------------------------
    def set_runs_dir(self, runs_dir: Path | None) -> None:
        self.runs_dir = runs_dir
        self.refresh()

    def set_document(self, document: str) -> None:
        """The open document: its runs come first."""
        self.document = document
        self.refresh()

    def refresh(self) -> None:
        self.tree.clear()
        for info in ordered(list_runs(self.runs_dir), self.document):
            status = "running" if info.folder in self.active else info.status
            values = (info.name, info.document, STATUS_TEXT[status], str(info.step),
                      metric_text(info.metrics, "val_loss"),
                      metric_text(info.metrics, "val_accuracy"))
            item = QTreeWidgetItem(list(values))
            item.setData(0, Qt.UserRole, info)
            if base_name(info.document) == base_name(self.document):
                font = item.font(1)
                font.setBold(True)
                item.setFont(1, font)
            self.tree.addTopLevelItem(item)
        self._apply_filter(self.filter.text())
        self._update_buttons()

    def _apply_filter(self, text: str) -> None:
        words = text.lower().split()
        for index in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(index)
            haystack = f"{item.text(0)} {item.text(1)}".lower()
            item.setHidden(not all(word in haystack for word in words))

    def selected(self) -> list[RunInfo]:
        return [item.data(0, Qt.UserRole) for item in self.tree.selectedItems() if not item.isHidden()]

    def _update_buttons(self) -> None:
        chosen = self.selected()
        busy = self._process is not None
        self.buttons["Open"].setEnabled(len(chosen) == 1)
        self.buttons["Compare"].setEnabled(len(chosen) >= 1)
        for name in ("Evaluate", "Sample", "Predict"):
            self.buttons[name].setEnabled(len(chosen) == 1 and chosen[0].has_model and not busy)

    # charts ------------------------------------------------------------------
    def _open(self) -> None:
        chosen = self.selected()
        if len(chosen) == 1:
            self.show_requested.emit([chosen[0].folder], False)

    def _compare(self) -> None:
        chosen = self.selected()
        if chosen:
            self.show_requested.emit([info.folder for info in chosen], len(chosen) == 1)

    def _predict(self) -> None:
        chosen = self.selected()
        if len(chosen) == 1:
            self.predict_requested.emit(chosen[0].folder)

    # evaluate and sample -----------------------------------------------------
    def _evaluate(self) -> None:
        self._run_command("eval", "Evaluation")

    def _sample(self) -> None:
        self._run_command("sample", "Samples")

    def _run_command(self, command: str, title: str) -> None:
        chosen = self.selected()
        if len(chosen) != 1 or self._process is not None:
            return
        folder = chosen[0].folder
        extra = ["--json"] if command == "eval" else []
        self._text = []
        self._show_matrix(None)
        self.result_title.setText(f"{title} of {folder.name}: running…")
        self.output.clear()
        self._process = EngineProcess(None, self._text.append, self)
        self._process.finished.connect(lambda code, _stopped: self._on_command_done(title, folder, code))
        self._process.start(*engine_command(command, str(folder), *extra))
        self._update_buttons()

    def _on_command_done(self, title: str, folder: Path, exit_code: int) -> None:
        process, self._process = self._process, None
        text = "\n".join(self._text)
        if exit_code != 0:
            self.result_title.setText(f"{title} of {folder.name} failed")
            self.output.setPlainText((process.stderr.strip() or text).strip())
        else:
            self.result_title.setText(f"{title} of {folder.name}")
            self._show_result(text)
        process.deleteLater()
        self._update_buttons()

    def _show_result(self, text: str) -> None:
        """`eval --json` output as metrics and a confusion matrix; anything else (samples) as text."""
        try:
            result = json.loads(text)
        except ValueError:
            result = None
        if not isinstance(result, dict) or not isinstance(result.get("metrics"), dict):
            self._show_matrix(None)
            self.output.setPlainText(text)
            return
        self._show_matrix(ConfusionMatrix(result["confusion"], result.get("class_names"))
                          if result.get("confusion") else None)
        metrics = result["metrics"]
        lines = [f"{result.get('part', 'validation')}: {result.get('samples', '?')} samples"]
        lines += [f"{key}: {metric_text(metrics, key)}" for key in metrics]
        self.output.setPlainText("\n".join(lines))

    def _show_matrix(self, matrix: ConfusionMatrix | None) -> None:
        if self.matrix is not None:
            self.matrix.deleteLater()
        self.matrix = matrix
        self.output.setMaximumWidth(16_777_215 if matrix is None else METRICS_WIDTH)
        if matrix is not None:
            self.results_layout.insertWidget(0, matrix, 1)
