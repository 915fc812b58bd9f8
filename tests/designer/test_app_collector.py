"""The designer collects garbage in its GUI thread only: a collection a worker thread set off could destroy Qt
objects outside the GUI thread (designer/app.run)."""
import gc
import threading

from PySide6.QtCore import QStandardPaths, QTimer
from PySide6.QtWidgets import QApplication

from layerloom.designer.app import run
from layerloom.engine.templates import template_path


class _Cycle:
    def __init__(self):
        self.me = self


def test_the_designers_garbage_is_collected_in_its_gui_thread_only(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERLOOM_RECOVERY_DIR", str(tmp_path / "recovery"))
    gui, collected_in = threading.get_ident(), []

    def record(phase, info):
        if phase == "start":
            collected_in.append(threading.get_ident())

    def worker_makes_garbage():
        worker = threading.Thread(target=lambda: [_Cycle() for _ in range(50_000)])
        worker.start()
        worker.join()
        QTimer.singleShot(1500, close)   # the collector's timer runs once a second

    def close():
        for widget in QApplication.topLevelWidgets():
            widget.close()
        QApplication.quit()

    QStandardPaths.setTestModeEnabled(True)   # settings go to a test location, not the user's
    gc.enable()   # as in a fresh process (the suite's conftest collects between tests)
    gc.callbacks.append(record)
    try:
        QTimer.singleShot(0, worker_makes_garbage)
        assert run(str(template_path("mlp_spirals"))) == 0
    finally:
        gc.callbacks.remove(record)
        QStandardPaths.setTestModeEnabled(False)
    assert collected_in and set(collected_in) == {gui}
