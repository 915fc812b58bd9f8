"""The designer's document: the engine's Architecture behind a thin observable, undoable wrapper.

Every edit replaces the immutable Architecture through an undo command; views subscribe to the
signals and keep no state of their own. Checking (validation + shape inference) runs in a worker
thread after a short debounce, so typing never waits for it; the costs (MACs, training memory at the
training section's batch size) follow in the same thread and arrive a moment later.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QEventLoop, QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from layerloom import engine
from layerloom.engine import Architecture, CostReport, Problem, ShapeReport, TrainingMemory
from layerloom.engine.costs import document_memory

CHECK_DELAY_MS = 15   # coalesces the edits of one burst; the check itself runs off the GUI thread


class SnapshotCommand(QUndoCommand):
    """Undoable replacement of the whole document; consecutive commands with one merge key merge (drags)."""

    def __init__(self, document: "DocumentModel", before: Architecture, after: Architecture, text: str, merge_id: int = -1):
        super().__init__(text)
        self._document, self.before, self.after, self._merge_id = document, before, after, merge_id

    def id(self) -> int:
        return self._merge_id

    def mergeWith(self, other: QUndoCommand) -> bool:
        if other.id() != self._merge_id or self._merge_id < 0:
            return False
        self.after = other.after
        return True

    def redo(self) -> None:
        self._document._replace(self.after)

    def undo(self) -> None:
        self._document._replace(self.before)


class DocumentModel(QObject):
    """Single source of truth for the open document."""

    changed = Signal()              # the Architecture was replaced (any edit, undo, redo, open)
    checked = Signal()              # problems and shapes are up to date with the document
    costed = Signal()               # costs and memory are up to date with the document (just after `checked`)
    selection_changed = Signal()
    path_changed = Signal()
    opened = Signal()               # another document replaced this one (New, Open, a template, a recovery)
    _check_done = Signal(int, object)   # from the worker thread: (generation, (problems, shapes))
    _costs_done = Signal(int, object)   # from the worker thread: (generation, (costs, memory)), or None if stale
    _settled = Signal()                 # no check (nor its cost pass) is running

    MOVE_MERGE_ID = 1

    def __init__(self, arch: Architecture | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.arch = arch or Architecture()
        self.path: Path | None = None
        self.problems: list[Problem] = []
        self.shapes = ShapeReport()
        self.costs = CostReport()
        self.memory: TrainingMemory | None = None   # at the training section's batch size; None when unknown
        self.selection: frozenset[str] = frozenset()
        self.undo_stack = QUndoStack(self)
        self._generation = 0
        self._pending = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="layerloom-check")
        self._timer = QTimer(self, singleShot=True, interval=CHECK_DELAY_MS)
        self._timer.timeout.connect(self._start_check)
        self._check_done.connect(self._on_check_done)
        self._costs_done.connect(self._on_costs_done)
        self._timer.start()

    # editing -----------------------------------------------------------------
    def apply(self, after: Architecture, text: str, merge_id: int = -1) -> None:
        """Make `after` the document, undoably."""
        if after != self.arch:
            self.undo_stack.push(SnapshotCommand(self, self.arch, after, text, merge_id))

    def reset(self, arch: Architecture, path: Path | None = None) -> None:
        """Open a new document: clears undo history and selection."""
        self.undo_stack.clear()
        self.path = Path(path) if path else None
        self.selection = frozenset()
        self._replace(arch)
        self.undo_stack.setClean()
        self.path_changed.emit()
        self.selection_changed.emit()
        self.opened.emit()

    def select(self, ids) -> None:
        ids = frozenset(ids) & {n.id for n in self.arch.nodes}
        if ids != self.selection:
            self.selection = ids
            self.selection_changed.emit()

    @property
    def dirty(self) -> bool:
        return not self.undo_stack.isClean()

    def save(self, path: Path | None = None) -> None:
        """Save atomically to `path` (or the current path) and mark the document clean."""
        target = Path(path) if path else self.path
        if target is None:
            raise ValueError("no file name given")
        engine.save(self.arch, target)
        self.undo_stack.setClean()
        if target != self.path:
            self.path = target
            self.path_changed.emit()

    # checking ----------------------------------------------------------------
    def problems_for(self, node_id: str) -> list[Problem]:
        return [p for p in self.problems if p.node == node_id]

    def wait_for_check(self, timeout_ms: int = 10_000) -> None:
        """Block until the current document is checked (for tests and screenshots), running a local event loop
        until no check is left; a pending one starts now instead of after the debounce."""
        if self._timer.isActive():
            self._timer.stop()
            self._start_check()
        if not self._pending:
            return
        loop = QEventLoop()
        self._settled.connect(loop.quit)
        QTimer.singleShot(timeout_ms, loop, loop.quit)
        loop.exec()
        self._settled.disconnect(loop.quit)

    def _replace(self, arch: Architecture) -> None:
        self.arch = arch
        gone = self.selection - {n.id for n in arch.nodes}
        self.changed.emit()
        if gone:
            self.selection = self.selection - gone
            self.selection_changed.emit()
        self._timer.start()

    def _start_check(self) -> None:
        self._generation += 1
        generation, arch = self._generation, self.arch
        self._pending += 1

        def run():
            try:
                result = engine.check(arch)
            except Exception as error:  # a checker bug must not take the editor down
                result = ([Problem(f"internal error while checking: {error}")], ShapeReport())
            self._check_done.emit(generation, result)
            self._costs_done.emit(generation, _costs(arch, result) if generation == self._generation else None)
        self._executor.submit(run)

    def _on_check_done(self, generation: int, result) -> None:
        if generation == self._generation:
            self.problems, self.shapes = result
            self.checked.emit()

    def _on_costs_done(self, generation: int, result) -> None:
        self._pending -= 1
        if generation == self._generation and result is not None:
            self.costs, self.memory = result
            self.costed.emit()
        if not self._pending:
            self._settled.emit()

    def close(self) -> None:
        self._timer.stop()
        self._executor.shutdown(wait=True, cancel_futures=True)


def _costs(arch: Architecture, checked) -> tuple[CostReport, TrainingMemory | None]:
    """The cost pass over what the check found, and the training memory when the whole document is valid."""
    problems, shapes = checked
    try:
        costs = engine.infer_costs(arch, shapes)
    except Exception as error:  # a cost-model bug must not take the editor down either
        return CostReport(problems=[Problem(f"internal error while counting costs: {error}")]), None
    return costs, None if problems or costs.problems else document_memory(arch, costs)
