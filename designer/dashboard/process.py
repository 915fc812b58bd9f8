"""A `layerloom` command in a child process, so a crash or a NaN in training never reaches the editor."""
from __future__ import annotations

import os
import signal
import sys
from collections import deque
from typing import Callable, Sequence

from pydantic import BaseModel
from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from layerloom.engine.lifeline import PARENT

from .stream import STEP_RATE, LineFeed

STOP_GRACE_MS = 4000     # after an interrupt, how long the trainer gets to write its end event
STDERR_KEPT = 64_000     # characters of stderr kept for the error message


def engine_command(*args: str) -> tuple[str, list[str]]:
    """Program and arguments running the engine's CLI with this interpreter."""
    return sys.executable, ["-m", "layerloom", *args]


class EngineProcess(QObject):
    """Runs one command, hands its stdout events to `sink` (other lines to `on_text`) and captures stderr.

    `finished(exit_code, stopped)` comes once the process is gone and every line it wrote was handed over.
    """

    finished = Signal(int, bool)

    def __init__(self, sink: Callable[[BaseModel], None] | None = None,
                 on_text: Callable[[str], None] | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self._feed = LineFeed(sink, on_text, self, step_rate=STEP_RATE)
        self._feed.drained.connect(self._maybe_done)
        self._stderr: deque[str] = deque()
        self._stderr_size = 0
        self._exit_code: int | None = None
        self._done = False
        self.stopped = False
        self._process = QProcess(self)
        self._process.readyReadStandardOutput.connect(self._on_stdout)
        self._process.readyReadStandardError.connect(self._on_stderr)
        self._process.finished.connect(self._on_finished)
        self._process.errorOccurred.connect(self._on_error)
        self._kill_timer = QTimer(self, singleShot=True, interval=STOP_GRACE_MS)
        self._kill_timer.timeout.connect(self._process.kill)

    def start(self, program: str, arguments: Sequence[str]) -> None:
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")     # lines must arrive as they are written
        env.insert(PARENT, str(os.getpid()))     # the command ends when the editor does, however it ends
        self._process.setProcessEnvironment(env)
        self._process.start(program, list(arguments))

    @property
    def running(self) -> bool:
        """True until `finished` was emitted."""
        return not self._done

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    @property
    def dropped(self) -> int:
        """Step events skipped because they came faster than the dashboard could take them."""
        return self._feed.dropped

    def stop(self) -> None:
        """Interrupt (the trainer ends cleanly with a 'cancelled' end event); kill if it does not exit in time."""
        if self._process.state() == QProcess.NotRunning:
            return
        self.stopped = True
        pid = self._process.processId()
        if os.name == "posix" and pid:
            os.kill(pid, signal.SIGINT)
            self._kill_timer.start()
        else:
            self._process.kill()

    def stop_and_wait(self, timeout_ms: int = STOP_GRACE_MS) -> None:
        """Stop and block until the process is gone (the editor is closing); kill it if it takes too long."""
        self.stop()
        if self._process.state() != QProcess.NotRunning and not self._process.waitForFinished(timeout_ms):
            self._process.kill()
            self._process.waitForFinished(2000)

    def _on_stdout(self) -> None:
        self._feed.write(self._process.readAllStandardOutput().data())

    def _on_stderr(self) -> None:
        text = self._process.readAllStandardError().data().decode("utf-8", "replace")
        self._stderr.append(text)
        self._stderr_size += len(text)
        while self._stderr_size > STDERR_KEPT and len(self._stderr) > 1:
            self._stderr_size -= len(self._stderr.popleft())

    def _on_finished(self, exit_code: int, status: QProcess.ExitStatus) -> None:
        self._kill_timer.stop()
        self._on_stderr()
        self._exit_code = exit_code if status == QProcess.NormalExit else -1
        self._feed.write(self._process.readAllStandardOutput().data(), final=True)

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.FailedToStart:
            self._stderr.append(f"could not start {self._process.program()}: {self._process.errorString()}\n")
            self._exit_code = -1
            self._feed.write(b"", final=True)

    def _maybe_done(self) -> None:
        if self._exit_code is not None and self._feed.pending == 0 and not self._done:
            self._done = True
            self.finished.emit(self._exit_code, self.stopped)
