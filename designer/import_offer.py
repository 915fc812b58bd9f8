"""A dropped `.py` file: offer `layerloom import` on one of its nn.Module classes, run it in a separate process
(the file's code runs there, never in the designer) and open the document it writes."""
from __future__ import annotations

import ast
import shlex
import sys
from pathlib import Path

from PySide6.QtCore import QProcess, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QPlainTextEdit, QVBoxLayout, QWidget,
)

from layerloom.engine import fileio

from .panel_style import mute

MAX_SOURCE_BYTES = 16 * 1024 * 1024  # a larger file is not a model's source: no classes are offered


def module_classes(path: Path) -> list[str]:
    """Names of the classes in the file that derive from something called Module (read, never run)."""
    try:
        tree = ast.parse(fileio.read_bytes(path, MAX_SOURCE_BYTES, "Python file").decode("utf-8"), str(path))
    except (fileio.FileError, SyntaxError, UnicodeDecodeError, ValueError, RecursionError, MemoryError):
        return []
    def base_name(base: ast.expr) -> str:
        return base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
    return [node.name for node in tree.body if isinstance(node, ast.ClassDef)
            and any(base_name(b).endswith("Module") for b in node.bases)]


class ImportOffer(QDialog):
    """The import command for a dropped file, editable; Import runs it and `imported` gives the document written."""

    imported = Signal(Path)

    def __init__(self, path: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.path = path
        self.setWindowTitle(f"Import a PyTorch model from {path.name}")
        self.classes = QComboBox(editable=True)
        self.classes.addItems(module_classes(path))
        self.shapes = QLineEdit(placeholderText="per forward argument, e.g. 1,28,28 (may stay empty for linear inputs)")
        self.args = QLineEdit(placeholderText='keyword arguments as JSON, e.g. {"hidden": 64}')
        self.output = QLineEdit(str(path.with_suffix(".json")))
        self.command = QLabel(textInteractionFlags=Qt.TextSelectableByMouse, wordWrap=True)
        self.command.setStyleSheet("font-family: monospace")
        self.log = QPlainTextEdit(readOnly=True, visible=False)
        form = QFormLayout()
        form.addRow("Class", self.classes)
        form.addRow("Input shapes", self.shapes)
        form.addRow("Arguments", self.args)
        form.addRow("Write to", self.output)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Cancel)
        self.run_button = self.buttons.addButton("Import", QDialogButtonBox.AcceptRole)
        self.buttons.accepted.connect(self.run)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(mute(QLabel(f"This runs the code in {path.name}, as Python would: import only models "
                                     "you trust.", wordWrap=True)))
        layout.addWidget(self.command)
        layout.addWidget(self.log)
        layout.addWidget(self.buttons)
        for field in (self.shapes, self.args, self.output):
            field.textChanged.connect(self._show_command)
        self.classes.currentTextChanged.connect(self._show_command)
        self._show_command()
        self.process = QProcess(self)
        self.process.setProcessChannelMode(QProcess.MergedChannels)
        self.process.finished.connect(self._on_finished)
        self.resize(560, 0)

    def arguments(self) -> list[str]:
        """The `layerloom import` arguments the fields describe."""
        args = ["import", f"{self.path}:{self.classes.currentText().strip()}"]
        if self.args.text().strip():
            args += ["--args", self.args.text().strip()]
        for shape in self.shapes.text().replace(";", " ").split():
            args += ["--input-shape", shape]
        return args + ["-o", self.output.text().strip()]

    def _show_command(self) -> None:
        self.command.setText("layerloom " + shlex.join(self.arguments()))

    def run(self) -> None:
        self.run_button.setEnabled(False)
        self.log.setPlainText("Importing…")
        self.log.show()
        self.process.start(sys.executable, ["-m", "layerloom", *self.arguments()])

    def _on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self.run_button.setEnabled(True)
        output = bytes(self.process.readAll()).decode("utf-8", "replace").strip()
        if code == 0 and status == QProcess.NormalExit:
            self.accept()
            self.imported.emit(Path(self.output.text().strip()))
        else:
            self.log.setPlainText(output or f"layerloom import stopped (exit code {code})")

    def done(self, result: int) -> None:
        if self.process.state() != QProcess.NotRunning:
            self.process.kill()
            self.process.waitForFinished(2000)
        super().done(result)
