"""A command the designer started ends with the designer, however the designer ends (real processes)."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# The designer's EngineProcess starting a child that, like a trainer loading data or in a long epoch, writes
# nothing: no failed write to a closed pipe can end it, only the parent-death signal can.
PARENT = """
import sys
from PySide6.QtCore import QCoreApplication
from layerloom.designer.dashboard.process import EngineProcess
app = QCoreApplication([])
child = EngineProcess()
child.start(sys.executable, ["-c", sys.argv[1], sys.argv[2]])
app.exec()
"""
CHILD = """
import sys, time
from pathlib import Path
from layerloom.engine.lifeline import end_with_parent
end_with_parent()
Path(sys.argv[1]).write_text("started")
try:
    time.sleep(120)
except KeyboardInterrupt:   # the trainer's clean stop: its run ends 'cancelled'
    Path(sys.argv[1]).write_text("stopped")
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_a_silent_child_stops_when_the_designer_is_terminated(tmp_path):
    said = tmp_path / "child"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    parent = subprocess.Popen([sys.executable, "-c", PARENT, CHILD, str(said)], env=env)
    try:
        deadline = time.monotonic() + 60
        while not said.is_file():
            assert parent.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        parent.send_signal(signal.SIGTERM)    # the designer's default: no handler, gone at once
        parent.wait(10)
        deadline = time.monotonic() + 10
        while said.read_text() != "stopped":
            assert time.monotonic() < deadline, "the child outlived the designer"
            time.sleep(0.1)
    finally:
        parent.kill()
        parent.wait()
