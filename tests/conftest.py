"""Test-wide setup: Qt runs offscreen, so the suite needs no display."""
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# One torch thread per process: tests start trainer subprocesses beside the test process on 2 cores,
# where torch's default of one thread per core makes small models thrash.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_sessionfinish(session, exitstatus):
    """Empty the clipboard while Qt still runs: Qt frees clipboard data at exit after Python has, and crashes."""
    gui = sys.modules.get("PySide6.QtGui")
    if gui is not None and gui.QGuiApplication.instance() is not None:
        gui.QGuiApplication.clipboard().clear()
