"""The designer's document: undoable snapshots, background checking, saving."""
import threading

import pytest

from layerloom import engine
from layerloom.designer import edits
from layerloom.designer.document import CHECK_DELAY_MS, DocumentModel


@pytest.fixture
def document(qtbot):
    doc = DocumentModel()
    doc.reset(engine.load("templates/cnn_digits.json"))
    doc.wait_for_check()
    yield doc
    doc.close()


def test_check_follows_every_edit(document, qtbot):
    assert document.problems == [] and document.shapes.total_params > 0
    arch, new = edits.add_node(document.arch, "linear")
    with qtbot.waitSignal(document.checked, timeout=10_000):
        document.apply(arch, "add linear")
    assert {p.node for p in document.problems} == {new}


def test_undo_and_redo_restore_snapshots(document):
    original = document.arch
    arch, _ = edits.add_node(original, "relu")
    document.apply(arch, "add relu")
    document.apply(edits.remove_nodes(arch, ["conv1"]), "delete")
    assert document.dirty and document.undo_stack.count() == 2
    document.undo_stack.undo()
    document.undo_stack.undo()
    assert document.arch == original and not document.dirty
    document.undo_stack.redo()
    assert document.arch == arch


def test_unchanged_apply_adds_no_undo_step(document):
    document.apply(document.arch, "nothing")
    assert document.undo_stack.count() == 0


def test_moves_with_one_merge_id_are_one_undo_step(document):
    original = document.arch
    for x in range(5):
        document.apply(edits.move_nodes(document.arch, {"conv1": (x, 0)}), "move", DocumentModel.MOVE_MERGE_ID)
    assert document.undo_stack.count() == 1
    document.undo_stack.undo()
    assert document.arch == original


def test_selection_drops_deleted_nodes(document, qtbot):
    document.select(["conv1", "relu1", "missing"])
    assert document.selection == {"conv1", "relu1"}
    with qtbot.waitSignal(document.selection_changed):
        document.apply(edits.remove_nodes(document.arch, ["conv1"]), "delete")
    assert document.selection == {"relu1"}


def test_stale_check_results_are_discarded(document, qtbot, monkeypatch):
    """A check that finishes after the document changed again must not show its answer, even for a moment."""
    broken, _ = edits.add_node(document.arch, "linear")
    fixed, entered, release, check = document.arch, threading.Event(), threading.Event(), engine.check

    def slow_check(arch):  # the broken document's check runs until the next edit has been made
        if arch is broken:
            entered.set()
            release.wait(10)
        return check(arch)
    monkeypatch.setattr(engine, "check", slow_check)
    seen = []
    document.checked.connect(lambda: seen.append(list(document.problems)))
    document.apply(broken, "break")
    qtbot.waitUntil(entered.is_set, timeout=5000)   # the first debounce ended and its check is running
    document.apply(fixed, "fix")                    # a second debounce window, while the first check runs
    qtbot.wait(4 * CHECK_DELAY_MS)                  # the second check is queued behind the first
    release.set()
    document.wait_for_check()
    assert seen == [[]]   # only the current document's answer was shown


def test_save_round_trips_and_marks_clean(document, tmp_path):
    document.apply(edits.set_params(document.arch, "conv1", {"out_channels": 4}), "edit")
    path = tmp_path / "net.json"
    document.save(path)
    assert not document.dirty and document.path == path
    assert engine.load(path) == document.arch
