"""The Runs tab: every run folder, open or compare runs in the charts, evaluate a run, sample from it."""
from __future__ import annotations

import json
import math
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QPlainTextEdit, QPushButton,
                               QSplitter, QTableWidget, QTableWidgetItem, QTreeWidget, QTreeWidgetItem, QVBoxLayout,
                               QWidget)

from layerloom.designer import theme

from .process import EngineProcess, engine_command
from .run_files import RunInfo, list_runs

COLUMNS = ("Run", "Status", "Step", "Val loss", "Val accuracy")


def metric_text(metrics: dict, key: str) -> str:
    value = metrics.get(key)
    if value is None:
        return ""
    return f"{value:.1%}" if "accuracy" in key and math.isfinite(value) else f"{value:.4g}"


def confusion_table(matrix: list[list[int]], labels: list[str] | None = None) -> QTableWidget:
    """A confusion matrix (rows: true class, columns: predicted) as a table shaded by row share."""
    size = len(matrix)
    labels = [str(label) for label in labels] if labels and len(labels) == size else [str(i) for i in range(size)]
    table = QTableWidget(size, size)
    table.setHorizontalHeaderLabels([f"→ {label}" for label in labels])
    table.setVerticalHeaderLabels(labels)
    table.setEditTriggers(QAbstractItemView.NoEditTriggers)
    for row, counts in enumerate(matrix):
        total = sum(counts) or 1
        for col, count in enumerate(counts):
            item = QTableWidgetItem(str(count))
            item.setTextAlignment(Qt.AlignCenter)
            share = count / total
            color = theme.color("healthy" if row == col else "exploding")
            color.setAlphaF(min(0.85, 0.08 + share))
            item.setBackground(color)
            item.setToolTip(f"true {labels[row]}, predicted {labels[col]}: {count} ({share:.0%} of the row)")
            table.setItem(row, col, item)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
    return table


class RunsView(QWidget):
    """Lists `runs_dir`; `show_requested(primary, other)` asks the dock to chart runs (None keeps the current)."""

    show_requested = Signal(object, object)
    predict_requested = Signal(object)   # a run folder: its model answers the person's own inputs

    def __init__(self, runs_dir: Path | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.runs_dir = runs_dir
        self.active: Path | None = None
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.setRootIsDecorated(False)
        self.tree.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.tree.header().setSectionResizeMode(0, QHeaderView.Stretch)
        self.tree.itemDoubleClicked.connect(lambda *_: self._open())
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        buttons = QHBoxLayout()
        self.buttons = {}
        for name, tip, slot in (
            ("Open", "Show this run in the charts.", self._open),
            ("Compare", "Overlay this run (dashed) on the one shown; with two selected, the first against the second.",
             self._compare),
            ("Evaluate", "Validation metrics and, for classification, the confusion matrix.", self._evaluate),
            ("Sample", "Generate from a trained generative model (text, sequences).", self._sample),
            ("Predict", "Ask the trained model about your own images, photos or sentences.", self._predict),
            ("Refresh", "Read the runs folder again.", self.refresh),
        ):
            button = QPushButton(name, toolTip=tip)
            button.clicked.connect(slot)
            buttons.addWidget(button)
            self.buttons[name] = button
        buttons.addStretch(1)
        self.result_title = QLabel()
        self.result_title.setStyleSheet("font-weight: 600;")
        self.output = QPlainTextEdit(readOnly=True)
        self.output.setPlaceholderText("Evaluate or sample a run to see its output here.")
        self.matrix: QTableWidget | None = None
        results = QWidget()
        self.results_layout = QVBoxLayout(results)
        self.results_layout.setContentsMargins(0, 0, 0, 0)
        self.results_layout.addWidget(self.result_title)
        self.results_layout.addWidget(self.output)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.tree)
        top_layout.addLayout(buttons)
        splitter = QSplitter(Qt.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(results)
        QVBoxLayout(self).addWidget(splitter)
        self._process: EngineProcess | None = None
        self._text: list[str] = []
        self.refresh()

    # listing -----------------------------------------------------------------
    def set_runs_dir(self, runs_dir: Path | None) -> None:
        self.runs_dir = runs_dir
        self.refresh()

    def refresh(self) -> None:
        self.tree.clear()
        for info in list_runs(self.runs_dir):
            status = "running" if self.active == info.folder else info.status
            values = (info.name, status, str(info.step), metric_text(info.metrics, "val_loss"),
                      metric_text(info.metrics, "val_accuracy"))
            item = QTreeWidgetItem(list(values))
            item.setData(0, Qt.UserRole, info)
            self.tree.addTopLevelItem(item)
        self._update_buttons()

    def selected(self) -> list[RunInfo]:
        return [item.data(0, Qt.UserRole) for item in self.tree.selectedItems()]

    def _update_buttons(self) -> None:
        chosen = self.selected()
        busy = self._process is not None
        self.buttons["Open"].setEnabled(len(chosen) == 1)
        self.buttons["Compare"].setEnabled(len(chosen) in (1, 2))
        for name in ("Evaluate", "Sample", "Predict"):
            self.buttons[name].setEnabled(len(chosen) == 1 and chosen[0].has_model and not busy)

    # charts ------------------------------------------------------------------
    def _open(self) -> None:
        chosen = self.selected()
        if len(chosen) == 1:
            self.show_requested.emit(chosen[0].folder, None)

    def _compare(self) -> None:
        chosen = self.selected()
        if len(chosen) == 2:
            self.show_requested.emit(chosen[0].folder, chosen[1].folder)
        elif len(chosen) == 1:
            self.show_requested.emit(None, chosen[0].folder)

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
            self.output.setPlainText(text)
            return
        if result.get("confusion"):
            self._show_matrix(confusion_table(result["confusion"], result.get("class_names")))
        metrics = result["metrics"]
        lines = [f"{result.get('part', 'validation')}: {result.get('samples', '?')} samples"]
        lines += [f"{key}: {metric_text(metrics, key)}" for key in metrics]
        self.output.setPlainText("\n".join(lines))

    def _show_matrix(self, table: QTableWidget | None) -> None:
        if self.matrix is not None:
            self.matrix.deleteLater()
        self.matrix = table
        if table is not None:
            self.results_layout.insertWidget(1, table, 1)
