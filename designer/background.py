"""One job at a time in a worker thread, its answer delivered on the GUI thread; the newest request wins."""
from __future__ import annotations

import threading
from typing import Callable

from PySide6.QtCore import QObject, Signal


class Background(QObject):
    """`run(job)` starts `job()` in a thread, or queues it while another runs (replacing any queued one);
    `finished(result)` carries what the latest job returned or raised. `close()` waits for the thread."""

    finished = Signal(object)
    _done = Signal(object, object)   # from the thread: (job, result or exception)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread: threading.Thread | None = None
        self._queued: Callable | None = None
        self._latest: Callable | None = None
        self._closed = False
        self._done.connect(self._on_done)

    @property
    def busy(self) -> bool:
        return self._thread is not None or self._queued is not None

    def run(self, job: Callable[[], object]) -> None:
        if self._closed:
            return
        self._latest = job
        if self._thread is not None:
            self._queued = job
            return
        self._thread = threading.Thread(target=self._work, args=(job,), name="layerloom-background", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """No job starts after this; the running one is waited for and its answer dropped."""
        self._closed, self._queued = True, None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _work(self, job: Callable) -> None:
        try:
            result = job()
        except Exception as error:  # shown to the person as a message, never lost in the thread
            result = error
        try:
            self._done.emit(job, result)
        except RuntimeError:  # the owner was deleted meanwhile: nobody is waiting for the answer
            pass

    def _on_done(self, job: Callable, result: object) -> None:
        if self._thread is not None:
            self._thread.join()
        self._thread = None
        if self._closed:
            return
        queued, self._queued = self._queued, None
        if queued is not None:
            self.run(queued)
        elif job is self._latest:
            self.finished.emit(result)
