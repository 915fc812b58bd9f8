"""The Train panel: edits the document's training section (undoably), starts and stops runs, shows progress."""
from __future__ import annotations

import zlib
from html import escape
from dataclasses import replace

import torch
from pydantic import ValidationError
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QFormLayout, QHBoxLayout, QLabel, QProgressBar, QPushButton,
                               QVBoxLayout, QWidget)

from layerloom.designer import theme
from layerloom.designer.document import DocumentModel
from layerloom.designer.model_form import FieldEditor, ModelForm
from layerloom.engine.config import DatasetRef, GradClip, OptimizerConfig, TrainingConfig
from layerloom.engine.data import DATASETS
from layerloom.engine.errors import DocumentError, error_problems
from layerloom.engine.train.fitting import DatasetFit, fitting_datasets

from .data_preview import DataPreview
from .progress import format_metrics, progress_text, status_text
from .run_store import RunSeries

NOT_FITTING_SHOWN = 3    # reasons under the dataset list; the list's tooltips give every one
MERGE_BASE = 0x7A000    # consecutive edits of one field merge into one undo step
DEFAULT_TRAINING = TrainingConfig(dataset=DatasetRef(name="spirals"), loss="cross_entropy")
CLIP_CHOICES = ((None, "none"), ("max_norm", "rescale to max norm"), ("value", "clamp each value"))


def devices() -> list[str]:
    found = ["auto", "cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        found.append("mps")
    return found


def section(text: str) -> QLabel:
    label = QLabel(text)
    label.setStyleSheet("padding-top: 6px;")
    return theme.set_role(label, "section")


class TrainPanel(QWidget):
    """Form over `document.arch.training`, the run buttons, a progress bar and the current metrics."""

    start_requested = Signal()
    stop_requested = Signal()
    probe_requested = Signal()

    def __init__(self, document: DocumentModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        self.editors: dict[str, QWidget] = {}
        layout = QVBoxLayout(self)
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        layout.addLayout(self.form)
        self._build_form()
        self.problem = theme.set_role(QLabel(wordWrap=True), "error")
        self.problem.hide()
        layout.addWidget(self.problem)
        layout.addLayout(self._build_buttons())
        self.progress = QProgressBar(textVisible=True, maximum=1000)
        self.progress.setFormat("not started")
        self.progress.setValue(0)
        layout.addWidget(self.progress)
        self.status = theme.set_role(QLabel(wordWrap=True), "muted")
        layout.addWidget(self.status)
        self.metrics = QLabel(textFormat=Qt.RichText)
        layout.addWidget(self.metrics)
        layout.addStretch(1)
        document.changed.connect(self._on_document_changed)
        self._on_document_changed()

    # building ----------------------------------------------------------------
    def _add(self, name: str, label: str, field, **options) -> None:
        """A row editing `field`: kind, bounds and tooltip from the model's own field."""
        editor = self.editors[name] = FieldEditor(name, field, **options)
        editor.committed.connect(self._on_edited)
        self.form.addRow(label, editor)

    def _build_form(self) -> None:
        config, optimizer = TrainingConfig.model_fields, OptimizerConfig.model_fields
        self.form.addRow(section("Data"))
        self._add("dataset", "Dataset", DatasetRef.model_fields["name"], choices=list(DATASETS))
        self.editors["dataset"].editor.setPlaceholderText("choose a dataset")
        self.fit_note = theme.set_role(QLabel(wordWrap=True, visible=False, textFormat=Qt.RichText), "muted")
        self.form.addRow(self.fit_note)
        self._fits: dict[str, DatasetFit] = {}
        self.dataset_form: ModelForm | None = None
        self._dataset_row = self.form.rowCount()
        self._add("val_fraction", "Validation share", config["val_fraction"])
        self.preview = DataPreview()
        self.form.addRow(self.preview)
        self.form.addRow(section("Objective and optimizer"))
        self._add("loss", "Loss", config["loss"])
        self._add("optimizer", "Optimizer", optimizer["name"])
        self._add("lr", "Learning rate", optimizer["lr"])
        self._add("momentum", "Momentum", optimizer["momentum"])
        self._add("weight_decay", "Weight decay", optimizer["weight_decay"])
        self.form.addRow(section("Schedule"))
        self._add("epochs", "Epochs", config["epochs"])
        self._add("batch_size", "Batch size", config["batch_size"])
        self._add("clip_kind", "Gradient clipping", config["grad_clip"], choices=CLIP_CHOICES)
        self._add("clip_value", "Clip at", GradClip.model_fields["max_norm"], required=True)
        self.editors["clip_value"].editor.setToolTip("The max_norm or the value to clip at.")
        self._add("seed", "Seed", config["seed"])
        self._add("device", "Device", config["device"], choices=devices())

    def _build_buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.stop_button = QPushButton("Stop", enabled=False)
        self.probe_button = QPushButton("Probe")
        self.probe_button.setToolTip("One forward and backward pass at initialization, no training: "
                                     "see how the gradient flows before spending time on a run.")
        for button, signal in ((self.start_button, self.start_requested), (self.stop_button, self.stop_requested),
                               (self.probe_button, self.probe_requested)):
            button.clicked.connect(signal.emit)
            row.addWidget(button)
        return row

    # document -> form --------------------------------------------------------
    @property
    def training(self) -> TrainingConfig:
        return self.document.arch.training or DEFAULT_TRAINING

    def _on_document_changed(self) -> None:
        config = self.training
        self._show_dataset_form(config.dataset if self.document.arch.training else None)
        clip = config.grad_clip
        kind = None if clip is None else ("max_norm" if clip.max_norm is not None else "value")
        values = {
            "dataset": config.dataset.name, "val_fraction": config.val_fraction, "loss": config.loss,
            "optimizer": config.optimizer.name, "lr": config.optimizer.lr, "momentum": config.optimizer.momentum,
            "weight_decay": config.optimizer.weight_decay, "epochs": config.epochs, "batch_size": config.batch_size,
            "clip_kind": kind, "clip_value": getattr(clip, kind) if kind else None, "seed": config.seed,
            "device": config.device,
        }
        for name, value in values.items():
            self.editors[name].set_value(value)
        self.editors["clip_value"].setEnabled(kind is not None)
        self._show_chosen_dataset()

    def _show_chosen_dataset(self) -> None:
        """The dataset list on the document's dataset, or on nothing while there is no training section."""
        combo, training = self.editors["dataset"].editor, self.document.arch.training
        combo.setCurrentIndex(combo.findData(training.dataset.name) if training else -1)
        self.fit_note.setVisible(training is None and self.fit_note.isVisibleTo(self))

    def reset(self) -> None:
        """Another document: forget what fitted the last one."""
        self._fill_datasets([(name, name, DATASETS[name].doc) for name in DATASETS])
        self.fit_note.hide()
        self.problem.hide()
        self._show_chosen_dataset()

    def offer_datasets(self) -> None:
        """No training section yet: list the datasets that fit the graph first and say why the others do not."""
        try:
            fits = fitting_datasets(self.document.arch)
        except DocumentError as error:
            self.show_problem(f"Fix the graph before training: {error.problems[0]}")
            return
        self._fits = {fit.name: fit for fit in fits}
        self._fill_datasets([(fit.name, fit.name if fit.fits else f"{fit.name} (does not fit)",
                              fit.doc if fit.fits else f"Does not fit: {fit.reason}") for fit in fits])
        fitting = [fit.name for fit in fits if fit.fits]
        others = [fit for fit in fits if not fit.fits]
        lines = [f"<b>Fit this graph:</b> {escape(', '.join(fitting))}. Choose one to train." if fitting else
                 "<b>No bundled dataset fits this graph's input and output</b>: csv or npz read your own data."]
        lines += [f"{escape(fit.name)}: {escape(fit.reason)}" for fit in others[:NOT_FITTING_SHOWN]]
        if len(others) > NOT_FITTING_SHOWN:
            lines.append(f"… and {len(others) - NOT_FITTING_SHOWN} more (hover the list)")
        self.fit_note.setText("<br>".join(lines))
        self.fit_note.show()
        self._show_chosen_dataset()
        self.editors["dataset"].editor.setFocus()

    def _fill_datasets(self, items: list[tuple[str, str, str]]) -> None:
        """(name, label, tooltip) per entry of the dataset list."""
        combo = self.editors["dataset"].editor
        combo.clear()
        for name, label, tip in items:
            combo.addItem(label, name)
            combo.setItemData(combo.count() - 1, tip, Qt.ToolTipRole)

    def _show_dataset_form(self, dataset: DatasetRef | None) -> None:
        self.preview.setVisible(dataset is not None)
        self.preview.show_dataset(dataset)
        spec = DATASETS.get(dataset.name) if dataset else None
        model = spec.params if spec else None
        if self.dataset_form is None or self.dataset_form.model is not model:
            if self.dataset_form is not None:
                self.form.removeRow(self.dataset_form)
                self.dataset_form = None
            if model is not None and model.model_fields:
                self.dataset_form = ModelForm(model)
                self.dataset_form.committed.connect(self._on_dataset_param)
                self.form.insertRow(self._dataset_row, self.dataset_form)
        if self.dataset_form is not None:
            self.dataset_form.set_values(dataset.params)
        self.editors["dataset"].editor.setToolTip(spec.doc if spec else "")

    # form -> document --------------------------------------------------------
    def _on_edited(self, name: str, value) -> None:
        data = self.training.model_dump()
        if name == "dataset":
            data["dataset"] = {"name": value, "params": {}}
            fit = self._fits.get(value)
            if self.document.arch.training is None and fit is not None and fit.fits:
                data["loss"] = fit.loss
        elif name in ("lr", "momentum", "weight_decay"):
            data["optimizer"][name] = value
        elif name == "optimizer":
            data["optimizer"]["name"] = value
        elif name == "clip_kind":
            data["grad_clip"] = None if value is None else {value: self.editors["clip_value"].value() or 1.0}
        elif name == "clip_value":
            kind = self.editors["clip_kind"].value()
            data["grad_clip"] = {kind: value} if kind else None
        else:
            data[name] = value
        self._apply(data, name)

    def _on_dataset_param(self, name: str, value) -> None:
        data = self.training.model_dump()
        params = {**data["dataset"]["params"], name: value}
        try:  # the training section keeps a dataset's params as a dict: its own model checks them
            params = DATASETS[data["dataset"]["name"]].params.model_validate(params).model_dump(exclude_defaults=True)
        except ValidationError as error:
            self._refuse([replace(p, field=f"dataset.params.{p.field}") for p in error_problems(error, params)])
            return
        data["dataset"]["params"] = params
        self._apply(data, f"dataset.{name}")

    def _apply(self, data: dict, name: str) -> None:
        try:
            config = TrainingConfig.model_validate(data)
        except ValidationError as error:
            self._refuse(error_problems(error, data))
            return
        self.problem.hide()
        merge = MERGE_BASE + zlib.crc32(name.encode()) % 4096
        self.document.apply(self.document.arch.model_copy(update={"training": config}),
                            f"Set training {name.replace('_', ' ')}", merge)

    def _refuse(self, problems) -> None:
        """Each problem under the editor of its field (the engine's wording); the others under the form."""
        rest = []
        for problem in problems:
            path = (problem.field or "").split(".")
            editor = self._editor_for(path)
            if editor is None:
                rest.append(str(problem))
            else:
                editor.show_error(problem.message)
        if rest:
            self.show_problem("; ".join(rest))

    def _editor_for(self, path: list[str]) -> FieldEditor | None:
        if path[:2] == ["dataset", "params"] and self.dataset_form is not None:
            return self.dataset_form.editors.get(path[-1])
        if path[0] == "grad_clip":
            return self.editors["clip_value"]
        if path[0] == "optimizer":
            return self.editors.get("optimizer" if path[-1] == "name" else path[-1])
        return self.editors.get(path[0])

    def show_problem(self, text: str) -> None:
        """A red line under the form (a refused value, a run that could not start)."""
        self.problem.setText(text)
        self.problem.show()

    # runs --------------------------------------------------------------------
    def set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.probe_button.setEnabled(not running)
        self.stop_button.setEnabled(running)

    def show_run(self, run: RunSeries | None) -> None:
        """Progress, status and metrics of the run shown in the charts."""
        fraction, text = progress_text(run)
        self.progress.setValue(int(1000 * (fraction or 0)))
        self.progress.setFormat(text)
        self.status.setText(status_text(run))
        self.metrics.setText(format_metrics(run.current_metrics() if run else {}))
