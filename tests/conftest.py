"""Test-wide setup: Qt runs offscreen, so the suite needs no display."""
import gc
import os
import sys
import tempfile
import threading
import time

import pytest
import tqdm

# Offscreen on a 1920x1080 screen (Qt's offscreen default is 800x800, smaller than any the designer is made for).
SCREEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "offscreen_screen.json")
os.environ.setdefault("QT_QPA_PLATFORM", f"offscreen:configfile={SCREEN}")
# One torch thread per process: tests start trainer subprocesses beside the test process on 2 cores,
# where torch's default of one thread per core makes small models thrash.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# tqdm starts a monitor thread for the first bar of a process, even a disabled one (torch.fx's Interpreter makes
# one for every run); it lives as long as the process. LayerLoom's own bars never start it (engine/progress.py).
tqdm.tqdm.monitor_interval = 0
# Crash logs of the tests go to a folder of their own, not the user's ~/.local/state.
os.environ.setdefault("XDG_STATE_HOME", tempfile.mkdtemp(prefix="layerloom-test-state-"))


def pytest_sessionfinish(session, exitstatus):
    """Empty the clipboard while Qt still runs: Qt frees clipboard data at exit after Python has, and crashes."""
    gui = sys.modules.get("PySide6.QtGui")
    if gui is not None and gui.QGuiApplication.instance() is not None:
        gui.QGuiApplication.clipboard().clear()


@pytest.fixture(autouse=True)
def collect_between_tests():
    """Garbage is collected only between tests, in the main thread, once no worker thread runs (as the designer
    collects only in its GUI thread): full runs crashed when a worker's collection destroyed Qt objects, or when
    the main thread's collection met a worker inside torch."""
    gc.disable()
    yield
    threshold, counts = gc.get_threshold(), gc.get_count()
    generation = max((g for g in range(3) if counts[g] > threshold[g]), default=None)
    if generation is not None:
        gc.collect(generation)


@pytest.fixture(autouse=True)
def no_thread_left():
    """Fail a test that leaves a Python thread running (pytest-qt closes its widgets before this runs)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5.0
    while (left := [t for t in threading.enumerate() if t not in before and t.is_alive()]) and time.monotonic() < deadline:
        left[0].join(0.05)
    assert not left, f"threads left running: {[t.name for t in left]}"
