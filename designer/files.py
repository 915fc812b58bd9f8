"""File commands for one window: new, open, save, save as, templates, recent files, unsaved-changes prompts, recovery.

Every modal question goes through one small method (`ask_*`, `show_error`), so tests replace it instead of a dialog.
"""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject, QSettings
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QFileDialog, QMenu, QMessageBox, QWidget

from layerloom import engine
from layerloom.engine import Architecture, DocumentError, Problem
from layerloom.engine.layout import auto_layout
from layerloom.engine.fileio import FileError
from .canvas.geometry import sizer
from .document import DocumentModel
from .recovery import Recovered, Recovery

FILE_FILTER = "LayerLoom documents (*.json);;All files (*)"
MAX_RECENT = 10
MAX_LISTED_PROBLEMS = 12


def laid_out(arch: Architecture) -> Architecture:
    """The document with an automatic layout if it has none (opening it adds no undo step)."""
    if arch.nodes and not arch.layout.nodes:
        return auto_layout(arch, sizer(arch))
    return arch


class FileController(QObject):
    """Owns the File menu's actions for `document`, shown in `window`."""

    def __init__(self, window: QWidget, document: DocumentModel, settings: QSettings, recovery: Recovery):
        super().__init__(window)
        self.window, self.document, self.settings, self.recovery = window, document, settings, recovery
        self.new = self._action("&New", QKeySequence.New, self.new_document)
        self.new_from_template = self._action("New from &Template…", "Ctrl+Shift+N", self.choose_template)
        self.open = self._action("&Open…", QKeySequence.Open, self.open_document)
        self.save = self._action("&Save", QKeySequence.Save, self.save_document)
        self.save_as = self._action("Save &As…", QKeySequence.SaveAs, self.save_document_as)
        self.recent_menu = QMenu("Open &Recent", window)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)

    def _action(self, text: str, keys, slot) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(keys))
        action.triggered.connect(lambda: slot())
        return action

    # questions and messages (replaced in tests) ------------------------------------------------------
    def ask_save_changes(self) -> QMessageBox.StandardButton:
        name = self.document.path.name if self.document.path else self.document.arch.name
        return QMessageBox.question(
            self.window, "Unsaved changes", f"Save the changes to “{name}” first?",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save)

    def ask_open_path(self) -> str:
        return QFileDialog.getOpenFileName(self.window, "Open document", self._folder(), FILE_FILTER)[0]

    def ask_save_path(self) -> str:
        suggested = self.document.path or Path(self._folder()) / f"{self.document.arch.name or 'untitled'}.json"
        return QFileDialog.getSaveFileName(self.window, "Save document as", str(suggested), FILE_FILTER)[0]

    def ask_template(self) -> Path | None:
        from .gallery import TemplateGalleryDialog
        dialog = TemplateGalleryDialog(self.window)
        return dialog.selected_path() if dialog.exec() == QDialog.Accepted else None

    def ask_restore(self, recovered: Recovered) -> bool:
        name = recovered.original.name if recovered.original else recovered.arch.name
        stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(recovered.saved_at))
        answer = QMessageBox.question(
            self.window, "Restore unsaved changes",
            f"LayerLoom did not close properly. Restore the unsaved changes to “{name}”, autosaved at {stamp}?",
            QMessageBox.Yes | QMessageBox.No, QMessageBox.Yes)
        return answer == QMessageBox.Yes

    def show_error(self, title: str, text: str, details: str = "") -> None:
        box = QMessageBox(QMessageBox.Warning, title, text, QMessageBox.Ok, self.window)
        if details:
            box.setInformativeText(details)
        box.exec()

    # commands ------------------------------------------------------------------------------------------
    def confirm_discard(self) -> bool:
        """True when the document may be replaced: clean, saved now, or its changes deliberately discarded."""
        if not self.document.dirty:
            return True
        answer = self.ask_save_changes()
        if answer == QMessageBox.Save:
            return self.save_document()
        return answer == QMessageBox.Discard

    def new_document(self) -> bool:
        if not self.confirm_discard():
            return False
        self.document.reset(Architecture())
        return True

    def choose_template(self) -> bool:
        if not self.confirm_discard():
            return False
        path = self.ask_template()
        return bool(path) and self.open_template(path)

    def open_template(self, path: Path) -> bool:
        """Start an untitled document from a template (the template file itself is never overwritten)."""
        arch = self._load(path)
        if arch is None:
            return False
        self.document.reset(laid_out(arch))
        return True

    def open_document(self) -> bool:
        if not self.confirm_discard():
            return False
        path = self.ask_open_path()
        return bool(path) and self.open_path(path, confirm=False)

    def open_path(self, path: str | Path, confirm: bool = True) -> bool:
        """Open a file; one that fails to load shows every problem and leaves the current document as it was."""
        if confirm and not self.confirm_discard():
            return False
        path = Path(path).resolve()
        arch = self._load(path)
        if arch is None:
            self._forget_recent(path)
            return False
        self.document.reset(laid_out(arch), path)
        self._remember_recent(path)
        return True

    def save_document(self) -> bool:
        if self.document.path is None:
            return self.save_document_as()
        return self._save(self.document.path)

    def save_document_as(self) -> bool:
        chosen = self.ask_save_path()
        if not chosen:
            return False
        path = Path(chosen)
        if not path.suffix:
            path = path.with_suffix(".json")
        return self._save(path)

    def _save(self, path: Path) -> bool:
        try:
            self.document.save(path)
        except FileError as error:
            self.show_error("Could not save", f"Could not save {path.name}.", error.why)
            return False
        self.recovery.discard()
        self._remember_recent(self.document.path)
        return True

    def _load(self, path: Path) -> Architecture | None:
        try:
            return engine.load(path)
        except DocumentError as error:
            self.show_error("Could not open", f"{Path(path).name} cannot be opened:", _problem_list(error.problems))
            return None

    # recent files ------------------------------------------------------------------------------------------
    def recent_files(self) -> list[Path]:
        value = self.settings.value("recent_files", [])
        return [Path(p) for p in ([value] if isinstance(value, str) else value or [])]

    def _remember_recent(self, path: Path) -> None:
        paths = [path, *[p for p in self.recent_files() if p != path]][:MAX_RECENT]
        self.settings.setValue("recent_files", [str(p) for p in paths])

    def _forget_recent(self, path: Path) -> None:
        self.settings.setValue("recent_files", [str(p) for p in self.recent_files() if p != path])

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for number, path in enumerate(self.recent_files(), start=1):
            action = self.recent_menu.addAction(f"&{number % 10}  {path.name}", lambda p=path: self.open_path(p))
            action.setToolTip(str(path))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("No recent files").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear Recent Files", lambda: self.settings.setValue("recent_files", []))

    def _folder(self) -> str:
        recent = self.recent_files()
        return str(recent[0].parent) if recent else str(Path.cwd())

    # crash recovery ---------------------------------------------------------------------------------------------
    def offer_recovery(self) -> bool:
        """Offer the newest autosave left by a crashed session, unless its file was saved since; True if restored."""
        restored = False
        for recovered in self.recovery.orphans():
            original = recovered.original
            outdated = original is not None and original.exists() and original.stat().st_mtime >= recovered.saved_at
            if not restored and not outdated and self.ask_restore(recovered):
                self._restore(recovered)
                restored = True
            self.recovery.forget(recovered)
        return restored

    def _restore(self, recovered: Recovered) -> None:
        """Open the file the autosave came from, then apply the recovered document as one undoable, unsaved edit."""
        base, path = Architecture(), None
        if recovered.original is not None and recovered.original.exists():
            try:
                base, path = laid_out(engine.load(recovered.original)), recovered.original
            except DocumentError:
                pass
        self.document.reset(base, path)
        self.document.apply(recovered.arch, "Restore unsaved changes")


def _problem_list(problems: list[Problem]) -> str:
    lines = [f"• {p}" for p in problems[:MAX_LISTED_PROBLEMS]]
    if len(problems) > MAX_LISTED_PROBLEMS:
        lines.append(f"… and {len(problems) - MAX_LISTED_PROBLEMS} more")
    return "\n".join(lines)
