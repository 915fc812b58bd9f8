"""Files: save and load round trip, atomic writes, prompts, recent files, load errors, crash recovery, the CLI."""
import json
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, QStandardPaths
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QMessageBox

from layerloom import engine
from layerloom.designer import edits
from layerloom.designer.app import run
from layerloom.designer.main_window import MainWindow

MLP = "templates/mlp_spirals.json"


@pytest.fixture
def make_window(qtbot, tmp_path):
    def make():
        window = MainWindow(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat),
                            recovery_dir=tmp_path / "recovery")
        window.files.ask_save_changes = lambda: QMessageBox.Discard
        window.files.errors = []
        window.files.show_error = lambda title, text, details="": window.files.errors.append(f"{text}\n{details}")
        qtbot.addWidget(window)
        return window
    return make


@pytest.fixture
def window(make_window):
    return make_window()


def edit(window) -> None:
    arch, _ = edits.add_node(window.document.arch, "dropout", (40, 500), {"p": 0.25})
    window.document.apply(arch, "add dropout")


def test_save_as_then_open_gives_back_the_same_document(window, tmp_path):
    window.files.open_template(Path(MLP))
    edit(window)
    target = tmp_path / "spirals"
    window.files.ask_save_path = lambda: str(target)
    window.files.save_as.trigger()
    saved = tmp_path / "spirals.json"
    assert window.document.path == saved and not window.document.dirty
    assert engine.load(saved) == window.document.arch
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("spirals")] == ["spirals.json"]  # no temp file
    built = window.document.arch
    assert window.files.new.trigger() is None and window.document.arch == engine.Architecture()
    assert window.files.open_path(saved) and window.document.arch == built and not window.document.dirty


def test_a_failed_save_keeps_the_document_unsaved(window, tmp_path):
    edit(window)
    window.files.ask_save_path = lambda: str(tmp_path / "missing" / "folder" / "x.json")
    assert not window.files.save_document()
    assert window.document.dirty and window.document.path is None and "Could not save" in window.files.errors[0]


def test_unsaved_changes_are_not_lost_without_asking(window, monkeypatch, tmp_path):
    edit(window)
    before = window.document.arch
    window.files.ask_save_changes = lambda: QMessageBox.Cancel
    assert not window.files.new_document() and window.document.arch == before
    assert not window.files.open_path(MLP) and window.document.arch == before
    window.files.ask_save_changes = lambda: QMessageBox.Save
    window.files.ask_save_path = lambda: str(tmp_path / "kept.json")
    assert window.files.new_document() and window.document.arch == engine.Architecture()
    assert engine.load(tmp_path / "kept.json") == before


def test_a_file_that_fails_to_load_shows_its_problems_and_opens_nothing(window, tmp_path):
    window.files.open_path(MLP)
    before, path = window.document.arch, window.document.path
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format_version": 1, "nodes": [{"id": "a", "type": "linear", "params": {"out_features": -1}},
                                                              {"id": "b", "type": "warp_drive"}]}))
    assert not window.files.open_path(bad)
    assert window.document.arch == before and window.document.path == path
    assert "bad.json" in window.files.errors[0] and "out_features" in window.files.errors[0]
    assert "warp_drive" in window.files.errors[0]


def test_recent_files_put_the_latest_first_and_drop_missing_ones(window, tmp_path):
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    for path in (first, second):
        engine.save(engine.load(MLP), path)
    window.files.open_path(first)
    window.files.open_path(second)
    window.files.open_path(first)
    assert window.files.recent_files() == [first, second]
    second.unlink()
    window.files.recent_menu.aboutToShow.emit()
    next(a for a in window.files.recent_menu.actions() if "second.json" in a.text()).trigger()
    assert window.files.recent_files() == [first] and window.document.path == first


def edited_then_autosaved(make_window, path):
    """A window that opened `path`, edited it and autosaved, as a session does just before it crashes."""
    engine.save(engine.load(MLP), path)
    window = make_window()
    window.files.open_path(path)
    edit(window)
    window.recovery.autosave()
    return window


def test_autosave_is_offered_back_after_a_crash(make_window, tmp_path):
    path = tmp_path / "net.json"
    crashed = edited_then_autosaved(make_window, path)
    assert crashed.recovery.path.exists()
    crashed.recovery._lock.unlock()   # the process died: nothing holds its lock any more
    edited = crashed.document.arch

    later = make_window()
    offers = []
    later.files.ask_restore = lambda recovered: offers.append(recovered) or True
    assert later.files.offer_recovery()
    assert offers[0].original == path and later.document.arch == edited and later.document.path == path
    assert later.document.dirty and not list((tmp_path / "recovery").glob("*.json"))
    later.document.undo_stack.undo()
    assert later.document.arch.nodes == engine.load(path).nodes


def test_an_autosave_older_than_its_saved_file_is_dropped(make_window, tmp_path):
    path = tmp_path / "net.json"
    crashed = edited_then_autosaved(make_window, path)
    crashed.recovery._lock.unlock()
    engine.save(crashed.document.arch, path)   # saved afterwards (by another session)
    later = make_window()
    later.files.ask_restore = lambda recovered: pytest.fail("an outdated autosave was offered")
    assert not later.files.offer_recovery() and not list((tmp_path / "recovery").glob("*.json"))


def test_saving_clears_the_autosave_of_a_running_session(window, tmp_path):
    edit(window)
    window.recovery.autosave()
    assert window.recovery.path.exists() and window.recovery.orphans() == []
    window.files.ask_save_path = lambda: str(tmp_path / "x.json")
    window.files.save_document()
    assert not window.recovery.path.exists()


def test_command_line_screenshot_opens_the_file_and_renders_it(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERLOOM_RECOVERY_DIR", str(tmp_path / "recovery"))
    QStandardPaths.setTestModeEnabled(True)   # settings go to a test location, not the user's
    try:
        out = tmp_path / "shot.png"
        assert run(MLP, screenshot=str(out)) == 0
        image = QImage(str(out))
        assert image.width() >= 1200 and image.height() >= 800
        bad = tmp_path / "bad.json"
        bad.write_text("{")
        assert run(str(bad), screenshot=str(tmp_path / "never.png")) == 1 and not (tmp_path / "never.png").exists()
    finally:
        QStandardPaths.setTestModeEnabled(False)
