"""File › Export: the document's model as standalone Python source, TorchScript or ONNX, fresh or trained.

The dialog only collects a request; `ExportController` runs the engine's export in a worker thread, so the window
stays responsive, and reports the outcome. Its `ask_request` and `show_error` are the only modal steps, so tests
replace them (or fill the dialog's fields).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QLineEdit, QMessageBox, QProgressBar,
    QPushButton, QWidget,
)

from layerloom.engine import Architecture, DocumentError
from layerloom.engine.errors import UserError
from layerloom.engine.export import export

from .document import DocumentModel

FORMATS = {"python": ("Python source (nn.Module)", ".py"), "torchscript": ("TorchScript", ".pt"),
           "onnx": ("ONNX", ".onnx")}
MAX_LISTED_PROBLEMS = 12
MESSAGE_MS = 8000


@dataclass(frozen=True)
class ExportRequest:
    """What to export: a format of `FORMATS`, the output file, and a model.pt or run folder (None: fresh weights)."""

    format: str
    output: Path
    weights: Path | None = None


class ExportDialog(QDialog):
    """Format, output file and optional trained weights; `request()` is the choice once the dialog is accepted."""

    def __init__(self, output: Path, runs_dir: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Export model")
        self.runs_dir = runs_dir
        self.format = QComboBox()
        for key, (label, suffix) in FORMATS.items():
            self.format.addItem(f"{label}  (*{suffix})", key)
        self.output = QLineEdit(str(output.with_suffix(".py")))
        self.weights = QLineEdit(placeholderText="fresh weights, seeded by the training seed")
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.buttons.button(QDialogButtonBox.Ok).setText("Export")
        form = QFormLayout(self)
        form.addRow("Format", self.format)
        form.addRow("Save as", _row(self.output, ("Browse…", self._browse_output)))
        form.addRow("Weights", _row(self.weights, ("model.pt…", self._browse_weights_file),
                                    ("Run folder…", self._browse_run_folder)))
        form.addRow(self.buttons)
        self.format.currentIndexChanged.connect(self._on_format_changed)
        self.output.textChanged.connect(self._on_output_changed)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.resize(620, self.sizeHint().height())

    def request(self) -> ExportRequest:
        weights = self.weights.text().strip()
        return ExportRequest(self.format.currentData(), Path(self.output.text().strip()),
                             Path(weights) if weights else None)

    def _on_format_changed(self, _index: int) -> None:
        """Keep the file name, with the new format's suffix."""
        text = self.output.text().strip()
        if text:
            self.output.setText(str(Path(text).with_suffix(FORMATS[self.format.currentData()][1])))

    def _on_output_changed(self, text: str) -> None:
        self.buttons.button(QDialogButtonBox.Ok).setEnabled(bool(text.strip()))

    def _browse_output(self) -> None:
        label, suffix = FORMATS[self.format.currentData()]
        chosen = QFileDialog.getSaveFileName(self, "Export as", self.output.text(), f"{label} (*{suffix})")[0]
        if chosen:
            self.output.setText(chosen)

    def _browse_weights_file(self) -> None:
        chosen = QFileDialog.getOpenFileName(self, "Trained weights", str(self.runs_dir), "Weights (*.pt)")[0]
        if chosen:
            self.weights.setText(chosen)

    def _browse_run_folder(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Run folder", str(self.runs_dir))
        if chosen:
            self.weights.setText(chosen)


def _row(field: QLineEdit, *buttons: tuple[str, Callable[[], None]]) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(field, 1)
    for text, slot in buttons:
        button = QPushButton(text)
        button.clicked.connect(lambda _=False, run=slot: run())
        layout.addWidget(button)
    return row


class ExportController(QObject):
    """Owns File › Export… for `document`, shown in `window`; the runs folder is where weights are looked for.

    The export runs in a worker thread (an ONNX export of a recurrent net takes seconds); `finished` says whether
    it succeeded once its message is shown. The window's `closeEvent` calls `close()`, which waits for it.
    """

    finished = Signal(bool)
    _done = Signal(object, object)   # from the worker thread: (request, Exported or the exception it raised)

    def __init__(self, window: QWidget, document: DocumentModel, runs_dir: Callable[[], Path]):
        super().__init__(window)
        self.window, self.document, self.runs_dir = window, document, runs_dir
        self.action = QAction("&Export…", self)
        self.action.setShortcut(QKeySequence("Ctrl+E"))
        self.action.triggered.connect(lambda: self.export_document())
        self.busy = QProgressBar(minimum=0, maximum=0, textVisible=False, maximumWidth=120, maximumHeight=12)
        window.statusBar().addPermanentWidget(self.busy)   # range 0..0: a busy bar while an export runs
        self.busy.hide()
        self._request: ExportRequest | None = None
        self._thread: threading.Thread | None = None
        self._outcome: object = None
        self._closed = False
        self._done.connect(self._on_done)

    @property
    def running(self) -> bool:
        return self._request is not None

    # questions and messages (replaced in tests) ------------------------------------------------------
    def ask_request(self) -> ExportRequest | None:
        path = self.document.path
        output = path.with_suffix("") if path else Path.cwd() / "model"
        dialog = ExportDialog(output, self.runs_dir(), self.window)
        return dialog.request() if dialog.exec() == QDialog.Accepted else None

    def show_error(self, title: str, text: str, details: str = "") -> None:
        box = QMessageBox(QMessageBox.Warning, title, text, QMessageBox.Ok, self.window)
        if details:
            box.setInformativeText(details)
        box.exec()

    # the command ----------------------------------------------------------------------------------------
    def export_document(self) -> bool:
        """Ask what to export and start exporting it; False when nothing started. `finished` follows a start."""
        if self.running or self._closed:
            return False
        request = self.ask_request()
        if request is None:
            return False
        # the Architecture is immutable and edits replace it: the worker exports the document as it is now
        arch, origin = self.document.arch, self.document.path.name if self.document.path else None
        self._request, self._outcome = request, None
        self.action.setEnabled(False)
        self.busy.show()
        self.window.statusBar().showMessage(f"Exporting {request.output.name}…")
        self._thread = threading.Thread(target=self._run, args=(arch, request, origin), name="layerloom-export")
        self._thread.start()
        return True

    def close(self) -> None:
        """Wait for a running export (it cannot be interrupted) and report it; no export starts after this."""
        self._closed = True
        if self._thread is None:
            return
        if self._thread.is_alive():
            QGuiApplication.setOverrideCursor(Qt.WaitCursor)
            try:
                self._thread.join()
            finally:
                QGuiApplication.restoreOverrideCursor()
        self._thread = None
        if self._request is not None:   # its queued signal has not been delivered yet: report it now
            self._on_done(self._request, self._outcome)

    def _run(self, arch: Architecture, request: ExportRequest, origin: str | None) -> None:
        """In the worker thread: export, and send the result, or whatever it raised, to the GUI thread."""
        try:
            outcome = export(arch, request.format, request.output, request.weights, origin)
        except Exception as error:  # even a bug in an exporter is a message box, not a lost thread
            outcome = error
        self._outcome = outcome
        self._done.emit(request, outcome)

    def _on_done(self, request: ExportRequest, outcome: object) -> None:
        if request is not self._request:
            return   # reported already, by close()
        self._request = None
        self.busy.hide()
        self.action.setEnabled(True)
        self.window.statusBar().clearMessage()
        if isinstance(outcome, Exception):
            self._show_failure(request, outcome)
        else:
            self.window.statusBar().showMessage(outcome.message, MESSAGE_MS)
        self.finished.emit(not isinstance(outcome, Exception))

    def _show_failure(self, request: ExportRequest, error: Exception) -> None:
        if isinstance(error, DocumentError):
            lines = [f"• {p}" for p in error.problems[:MAX_LISTED_PROBLEMS]]
            self.show_error("Could not export", "The document has problems; fix them first:", "\n".join(lines))
        elif isinstance(error, UserError):  # an export the model does not allow, or a file that cannot be written
            self.show_error("Could not export", str(error))
        else:
            self.show_error("Could not export", "The export failed unexpectedly.", f"{type(error).__name__}: {error}")
