"""File › Export in the designer: the dialog's fields, the export it runs off the GUI thread, and errors shown in a
message box."""
import threading
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QMessageBox

from layerloom import engine
from layerloom.designer import edits, export_dialog
from layerloom.designer.export_dialog import ExportDialog, ExportRequest
from layerloom.designer.main_window import MainWindow
from layerloom.designer.shortcut_sheet import rows
from layerloom.engine.export import Exported, ExportError
from layerloom.engine.export.python_source import class_name

MLP = Path(__file__).resolve().parents[2] / "templates" / "mlp_spirals.json"
FINISH_MS = 60_000   # a TorchScript or ONNX export on a loaded machine


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


def test_file_export_writes_python_source_with_a_runs_weights(window, tmp_path, qtbot, monkeypatch):
    model = engine.compile_model(window.document.arch)
    torch.save({k: t + 1 for k, t in model.state_dict().items()}, tmp_path / "model.pt")
    shown = fill_dialog(monkeypatch, "python", tmp_path / "net.py", tmp_path)
    with qtbot.waitSignal(window.exporter.finished, timeout=FINISH_MS) as done:
        window.exporter.action.trigger()
    assert done.args == [True]
    assert shown and shown[0].output.text() == str(tmp_path / "net.py")
    assert window.exporter.errors == []
    namespace = {}
    exec((tmp_path / "net.py").read_text(), namespace)
    exported = namespace[class_name(window.document.arch.name)]()
    exported.load_state_dict(torch.load(tmp_path / "net.pt", weights_only=True))
    assert torch.equal(exported.scores.bias, model.scores.bias + 1)
    assert window.statusBar().currentMessage().startswith(f"wrote {tmp_path / 'net.py'}")


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
def test_the_dialog_suggests_a_name_beside_the_document_and_follows_the_format(window, tmp_path, qtbot,
                                                                               monkeypatch):
    def run(dialog: ExportDialog) -> int:
        assert dialog.output.text() == str(tmp_path / "spirals.py")
        dialog.format.setCurrentIndex(dialog.format.findData("torchscript"))
        assert dialog.output.text() == str(tmp_path / "spirals.pt")
        return QDialog.Accepted
    monkeypatch.setattr(ExportDialog, "exec", run)
    with qtbot.waitSignal(window.exporter.finished, timeout=FINISH_MS) as done:
        assert window.exporter.export_document()
    assert done.args == [True]
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
    with qtbot.assertNotEmitted(window.exporter.finished, wait=50):
        assert not window.exporter.export_document()
    assert window.exporter.action.isEnabled()
    assert list(tmp_path.iterdir()) == []


def test_failures_are_shown_in_a_message_box(window, tmp_path, qtbot):
    requests = iter([
        ExportRequest("python", tmp_path / "net.py", tmp_path / "missing.pt"),
        ExportRequest("onnx", tmp_path / "no" / "such" / "folder.onnx"),
        ExportRequest("python", tmp_path / "net.py"),
    ])
    window.exporter.ask_request = lambda: next(requests)

    def export_and_fail():
        with qtbot.waitSignal(window.exporter.finished, timeout=FINISH_MS) as done:
            assert window.exporter.export_document()
        assert done.args == [False]
        assert window.exporter.action.isEnabled() and not window.exporter.busy.isVisible()
    export_and_fail()
    export_and_fail()
    arch, _ = edits.add_node(window.document.arch, "linear", (0, 0), {})   # an unconnected layer: a problem
    window.document.apply(arch, "add")
    export_and_fail()
    missing, unwritable, problems = window.exporter.errors
    assert "missing.pt: no such file" in missing
    assert "cannot write" in unwritable and "folder.onnx: no such file or directory" in unwritable
    assert problems.startswith("The document has problems") and "•" in problems
    assert not (tmp_path / "net.py").exists()


def test_export_is_in_the_file_menu_with_a_shortcut(window):
    assert ("File", "Ctrl+E", "Export") in rows(window)
    file_menu = window.menuBar().actions()[0].menu()
    assert window.exporter.action in file_menu.actions()


def block_export(monkeypatch, outcome=None) -> tuple[threading.Event, list]:
    """Make the engine's export wait for the returned event, then return `outcome` (raise it, if an exception)."""
    release, exported = threading.Event(), []

    def export(arch, fmt, out, weights=None, origin=None):
        exported.append(arch)
        assert release.wait(10), "the test never released the export"
        if isinstance(outcome, Exception):
            raise outcome
        return Exported(Path(out), f"wrote {out}")
    monkeypatch.setattr(export_dialog, "export", export)
    return release, exported


def test_the_window_stays_responsive_while_an_export_runs(window, tmp_path, qtbot, monkeypatch):
    release, exported = block_export(monkeypatch)
    asked = []
    window.exporter.ask_request = lambda: asked.append(1) or ExportRequest("onnx", tmp_path / "net.onnx")
    before = window.document.arch
    window.show()
    assert window.exporter.export_document()
    qtbot.waitUntil(lambda: bool(exported))
    assert not window.exporter.action.isEnabled() and window.exporter.busy.isVisible()
    assert window.statusBar().currentMessage() == "Exporting net.onnx…"
    timer = QTimer(window, singleShot=True, interval=10)
    with qtbot.waitSignal(timer.timeout, timeout=2000):   # the event loop runs while the export blocks
        timer.start()
    assert not window.exporter.export_document() and asked == [1]   # one export at a time
    arch, _ = edits.add_node(window.document.arch, "linear", (0, 0), {})
    window.document.apply(arch, "add")              # an edit during the export does not reach it
    with qtbot.waitSignal(window.exporter.finished, timeout=FINISH_MS) as done:
        release.set()
    assert done.args == [True] and exported == [before]
    assert window.statusBar().currentMessage() == f"wrote {tmp_path / 'net.onnx'}"
    assert window.exporter.action.isEnabled() and not window.exporter.busy.isVisible()


def test_an_unexpected_error_in_the_worker_is_a_message_box(window, tmp_path, qtbot, monkeypatch):
    release, _ = block_export(monkeypatch, RuntimeError("exporter bug"))
    release.set()
    window.exporter.ask_request = lambda: ExportRequest("onnx", tmp_path / "net.onnx")
    with qtbot.waitSignal(window.exporter.finished, timeout=FINISH_MS) as done:
        assert window.exporter.export_document()
    assert done.args == [False]
    assert window.exporter.errors == ["The export failed unexpectedly. RuntimeError: exporter bug"]
    assert window.statusBar().currentMessage() == ""


def test_closing_the_window_waits_for_the_export_and_reports_it_once(window, tmp_path, qtbot, monkeypatch):
    release, exported = block_export(monkeypatch, ExportError("onnx cannot export this"))
    window.exporter.ask_request = lambda: ExportRequest("onnx", tmp_path / "net.onnx")
    assert window.exporter.export_document()
    qtbot.waitUntil(lambda: bool(exported))
    threading.Timer(0.2, release.set).start()   # the GUI thread is blocked in close() until then
    with qtbot.waitSignal(window.exporter.finished, timeout=1000) as done:
        assert window.close()
    assert done.args == [False] and window.exporter.errors == ["onnx cannot export this "]
    qtbot.wait(50)                                # the worker's own signal arrives now, and is ignored
    assert window.exporter.errors == ["onnx cannot export this "]
    assert not window.exporter.export_document()
