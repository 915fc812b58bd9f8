"""The designer's document: the engine's Architecture behind a thin observable, undoable wrapper.

Every edit replaces the immutable Architecture through an undo command; views subscribe to the
signals and keep no state of their own. The canvas shows `view`: the document, or inside a block (`scope`, entered
by double-clicking an instance) that block's definition, whose edits `apply_view` writes back as one undo step. Checking (validation + shape inference) runs in a worker
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
from layerloom.engine.document import is_instance

from layerloom.engine.layout import auto_layout

from .block_scope import definition_view, write_back

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
    scope_changed = Signal()        # the canvas entered or left a block
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
        self.scope: tuple[str, ...] = ()   # the blocks entered, outermost first: the canvas edits the last one
        self._view: tuple | None = None    # (arch, scope, view): the view of the last document and scope
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

    def apply_view(self, after: Architecture, text: str, merge_id: int = -1) -> None:
        """Make `after` what the canvas shows, undoably: the document, or inside a block its definition (every
        instance follows)."""
        self.apply(write_back(self.arch, self.scope[-1], after) if self.scope else after, text, merge_id)

    @property
    def view(self) -> Architecture:
        """What the canvas shows and edits: the document, or the definition of the block entered last."""
        if not self.scope:
            return self.arch
        if self._view is None or self._view[0] is not self.arch or self._view[1] != self.scope:
            view = definition_view(self.arch, self.scope[-1])
            if not view.layout.nodes:  # never arranged: laid out as it opens (stored with the first edit)
                from .canvas.geometry import sizer   # the canvas package imports this module
                view = auto_layout(view, sizer(view))
            self._view = (self.arch, self.scope, view)
        return self._view[2]

    def enter(self, block: str) -> None:
        """Show and edit block `block`'s definition (from an instance of it on the canvas)."""
        if block in self.arch.blocks:
            self._set_scope((*self.scope, block))

    def leave(self, depth: int | None = None) -> None:
        """Go back out: one level, or to `depth` blocks deep (0: the document)."""
        self._set_scope(self.scope[:len(self.scope) - 1 if depth is None else depth])

    def _set_scope(self, scope: tuple[str, ...]) -> None:
        if scope != self.scope:
            self.scope, self.selection = scope, frozenset()
            self.scope_changed.emit()
            self.changed.emit()
            self.selection_changed.emit()
            self.checked.emit()
            self.costed.emit()

    def view_realization(self) -> tuple[str, ShapeReport] | None:
        """Where the block shown is used first: (the dotted path prefix of its nodes in the network, that copy's
        shape report); None at the document level or for a block no instance uses."""
        if not self.scope:
            return None
        for path, node, info in self.shapes.paths() if self.shapes.arch is not None else ():
            if is_instance(node) and node.type == self.scope[-1] and info.copies:
                return (f"{path}.0." if node.repeat > 1 else f"{path}."), info.copies[0]
        return None

    @property
    def view_shapes(self) -> ShapeReport:
        """The shapes of what the canvas shows."""
        if not self.scope:
            return self.shapes
        found = self.view_realization()
        return found[1] if found else ShapeReport()

    @property
    def view_problems(self) -> list[Problem]:
        """The problems of what the canvas shows, named by the ids it shows: inside a block, those of its
        definition and those of its first instance."""
        if not self.scope:
            return self.problems
        found = self.view_realization()
        prefix = found[0] if found else None
        mine = [Problem(p.message, p.node, p.edge, p.field) for p in self.problems if p.block == self.scope[-1]]
        return mine + [Problem(p.message, p.node[len(prefix):], p.edge, p.field) for p in self.problems
                       if prefix and p.block is None and p.node and p.node.startswith(prefix)]

    @property
    def view_costs(self) -> CostReport:
        """The costs of what the canvas shows."""
        found = self.view_realization()
        if found is None:
            return self.costs
        prefix = found[0]
        return CostReport(nodes={k[len(prefix):]: c for k, c in self.costs.inner.items()
                                 if k.startswith(prefix) and "." not in k[len(prefix):]})

    def reset(self, arch: Architecture, path: Path | None = None) -> None:
        """Open a new document: clears undo history, selection and scope."""
        self.undo_stack.clear()
        self.path = Path(path) if path else None
        self.selection = frozenset()
        self.scope = ()
        self._replace(arch)
        self.undo_stack.setClean()
        self.path_changed.emit()
        self.selection_changed.emit()
        self.opened.emit()

    def select(self, ids) -> None:
        ids = frozenset(ids) & {n.id for n in self.view.nodes}
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
        """The problems of a node the canvas shows."""
        return [p for p in self.view_problems if p.node == node_id]

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
        depth = next((i for i, block in enumerate(self.scope) if block not in arch.blocks), len(self.scope))
        if depth < len(self.scope):  # the block shown is gone (undone, ungrouped): back out to what remains
            self.scope = self.scope[:depth]
            self.scope_changed.emit()
        gone = self.selection - {n.id for n in self.view.nodes}
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
