"""File › Export in the designer: the dialog's fields, the export it runs, and errors shown in a message box."""
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QMessageBox

import engine
from designer import edits
from designer.export_dialog import ExportDialog, ExportRequest
from designer.main_window import MainWindow
from engine.export.python_source import class_name

MLP = Path(__file__).resolve().parents[2] / "templates" / "mlp_spirals.json"


@pytest.fixture
def window(qtbot, tmp_path):
    window = MainWindow(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat),
                        recovery_dir=tmp_path / "recovery")
    window.files.ask_save_changes = lambda: QMessageBox.Discard
    window.exporter.errors = []
    window.exporter.show_error = lambda title, text, details="": window.exporter.errors.append(f"{text} {details}")
    qtbot.addWidget(window)
    window.document.reset(engine.load(MLP), tmp_path / "spirals.json")
    return window


def fill_dialog(monkeypatch, fmt: str, output: Path, weights: Path | None = None) -> list[ExportDialog]:
    """Make the next Export dialog accept these fields instead of waiting for a person."""
    shown = []

    def run(dialog: ExportDialog) -> int:
        shown.append(dialog)
        dialog.format.setCurrentIndex(dialog.format.findData(fmt))
        dialog.output.setText(str(output))
        dialog.weights.setText(str(weights or ""))
        return QDialog.Accepted
    monkeypatch.setattr(ExportDialog, "exec", run)
    return shown


def test_file_export_writes_python_source_with_a_runs_weights(window, tmp_path, monkeypatch):
    model = engine.compile_model(window.document.arch)
    torch.save({k: t + 1 for k, t in model.state_dict().items()}, tmp_path / "model.pt")
    shown = fill_dialog(monkeypatch, "python", tmp_path / "net.py", tmp_path)
    window.exporter.action.trigger()
    assert shown and shown[0].output.text() == str(tmp_path / "net.py")
    assert window.exporter.errors == []
    namespace = {}
    exec((tmp_path / "net.py").read_text(), namespace)
    exported = namespace[class_name(window.document.arch.name)]()
    exported.load_state_dict(torch.load(tmp_path / "net.pt", weights_only=True))
    assert torch.equal(exported.scores.bias, model.scores.bias + 1)
    assert window.statusBar().currentMessage().startswith(f"wrote {tmp_path / 'net.py'}")


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
def test_the_dialog_suggests_a_name_beside_the_document_and_follows_the_format(window, tmp_path, monkeypatch):
    def run(dialog: ExportDialog) -> int:
        assert dialog.output.text() == str(tmp_path / "spirals.py")
        dialog.format.setCurrentIndex(dialog.format.findData("torchscript"))
        assert dialog.output.text() == str(tmp_path / "spirals.pt")
        return QDialog.Accepted
    monkeypatch.setattr(ExportDialog, "exec", run)
    assert window.exporter.export_document()
    loaded = torch.jit.load(str(tmp_path / "spirals.pt"))
    assert loaded(torch.zeros(3, 2)).shape == (3, 2)


def test_an_empty_output_disables_export_and_cancel_exports_nothing(window, tmp_path, qtbot, monkeypatch):
    dialog = ExportDialog(tmp_path / "net", tmp_path)
    qtbot.addWidget(dialog)
    dialog.output.setText("  ")
    assert not dialog.buttons.button(QDialogButtonBox.Ok).isEnabled()
    dialog.output.setText(str(tmp_path / "net.onnx"))
    assert dialog.request() == ExportRequest("python", tmp_path / "net.onnx", None)
    monkeypatch.setattr(ExportDialog, "exec", lambda dialog: QDialog.Rejected)
    assert not window.exporter.export_document()
    assert list(tmp_path.iterdir()) == []


def test_failures_are_shown_in_a_message_box(window, tmp_path):
    requests = iter([
        ExportRequest("python", tmp_path / "net.py", tmp_path / "missing.pt"),
        ExportRequest("onnx", tmp_path / "no" / "such" / "folder.onnx"),
        ExportRequest("python", tmp_path / "net.py"),
    ])
    window.exporter.ask_request = lambda: next(requests)
    assert not window.exporter.export_document()
    assert not window.exporter.export_document()
    arch, _ = edits.add_node(window.document.arch, "linear", (0, 0), {})   # an unconnected layer: a problem
    window.document.apply(arch, "add")
    assert not window.exporter.export_document()
    missing, unwritable, problems = window.exporter.errors
    assert "missing.pt: no such file" in missing
    assert "Could not write" in unwritable and "No such file or directory" in unwritable
    assert problems.startswith("The document has problems") and "•" in problems
    assert not (tmp_path / "net.py").exists()


def test_export_is_in_the_file_menu_with_a_shortcut(window):
    assert "Ctrl+E\tExport" in window.shortcut_lines()
    file_menu = window.menuBar().actions()[0].menu()
    assert window.exporter.action in file_menu.actions()
