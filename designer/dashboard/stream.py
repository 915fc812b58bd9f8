"""Turns raw JSON Lines bytes into validated events in small time slices, so a flood never blocks the UI."""
from __future__ import annotations

import time
from collections import deque
from typing import Callable

from pydantic import BaseModel, ValidationError
from PySide6.QtCore import QObject, QTimer, Signal

from layerloom.engine.train.events import line_prefix, parse_event

SLICE_SECONDS = 0.008      # parse for at most this long, then let the event loop breathe
MAX_BACKLOG = 4000         # lines waiting; beyond it, every other step event is dropped
STEP_RATE = 1000           # live step events parsed per second at most (the charts keep 512 rows anyway)
STEP_PREFIX = line_prefix("step")  # step lines are thinned and rate-limited before they are parsed


def parse_line(line: bytes) -> BaseModel | None:
    """One validated event, or None for a blank or foreign line."""
    line = line.strip()
    if not line.startswith(b"{"):
        return None
    try:
        return parse_event(line)
    except ValidationError:
        return None


def thin(lines: deque) -> deque:
    """Drop every other step event (keeping the newest); every other event is kept."""
    kept, keep_step = deque(), True
    for line in reversed(lines):
        if line.startswith(STEP_PREFIX):
            if keep_step:
                kept.appendleft(line)
            keep_step = not keep_step
        else:
            kept.appendleft(line)
    return kept


class LineFeed(QObject):
    """Buffers incoming bytes, splits lines, and hands parsed events to `sink` a slice at a time.

    Lines that are not events go to `on_text` (eval and sample print plain text). With `step_rate`, step
    events beyond that many per second are skipped unparsed (a live stream); without, a file loads whole.
    """

    drained = Signal()   # everything written so far has been handed over

    def __init__(self, sink: Callable[[BaseModel], None] | None, on_text: Callable[[str], None] | None = None,
                 parent: QObject | None = None, step_rate: float | None = None):
        super().__init__(parent)
        self._sink, self._on_text = sink, on_text
        self._step_rate = step_rate
        self._tokens, self._refilled = (step_rate or 0) / 4, time.perf_counter()
        self._partial = b""
        self._lines: deque[bytes] = deque()
        self.dropped = 0
        self._timer = QTimer(self, singleShot=True)
        self._timer.timeout.connect(self._drain)

    def write(self, data: bytes, final: bool = False) -> None:
        """Queue bytes; `final` flushes a last line without its newline."""
        chunks = (self._partial + data).split(b"\n")
        self._partial = b"" if final else chunks.pop()
        self._lines.extend(chunk for chunk in chunks if chunk.strip())
        if len(self._lines) > MAX_BACKLOG:
            before = len(self._lines)
            self._lines = thin(self._lines)
            self.dropped += before - len(self._lines)
        if not self._timer.isActive():
            self._timer.start(0)

    def _refill(self) -> None:
        """A token bucket holding a quarter second of `step_rate`: a flood is thinned before it is parsed."""
        if self._step_rate:
            now = time.perf_counter()
            self._tokens = min(self._step_rate / 4, self._tokens + (now - self._refilled) * self._step_rate)
            self._refilled = now

    @property
    def pending(self) -> int:
        return len(self._lines)

    def _drain(self) -> None:
        deadline = time.perf_counter() + SLICE_SECONDS
        self._refill()
        while self._lines and time.perf_counter() < deadline:
            line = self._lines.popleft()
            if self._step_rate and line.startswith(STEP_PREFIX):
                if self._tokens < 1:
                    self.dropped += 1
                    continue
                self._tokens -= 1
            event = parse_line(line) if self._sink is not None else None
            if event is not None:
                self._sink(event)
            elif self._on_text is not None:
                self._on_text(line.decode("utf-8", "replace").rstrip())
        if self._lines:
            self._timer.start(0)
        else:
            self.drained.emit()
