"""Crash recovery: a dirty document is autosaved to a recovery file, which a later start offers to restore."""
from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, QSaveFile, QStandardPaths, QTimer

from layerloom import engine
from layerloom.engine import Architecture, fileio
from .document import DocumentModel

AUTOSAVE_MS = 30_000
DIRECTORY_ENV = "LAYERLOOM_RECOVERY_DIR"


def default_directory() -> Path:
    """$LAYERLOOM_RECOVERY_DIR, else `recovery/` in the application's data folder."""
    if os.environ.get(DIRECTORY_ENV):
        return Path(os.environ[DIRECTORY_ENV])
    return Path(QStandardPaths.writableLocation(QStandardPaths.AppDataLocation)) / "recovery"


@dataclass(frozen=True)
class Recovered:
    """An autosave left behind by a session that did not close: the document, its file and when it was written."""

    path: Path
    arch: Architecture
    original: Path | None
    saved_at: float


class Recovery(QObject):
    """Autosaves one document while it has unsaved changes; its lock file tells live sessions from crashed ones."""

    def __init__(self, document: DocumentModel, directory: Path | None = None, interval_ms: int = AUTOSAVE_MS,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.document = document
        self.directory = Path(directory) if directory else default_directory()
        self.path = self.directory / f"recovery-{os.getpid()}-{uuid.uuid4().hex[:8]}.json"
        self._lock: QLockFile | None = None
        self._written: Architecture | None = None
        self._timer = QTimer(self, interval=interval_ms)
        self._timer.timeout.connect(self.autosave)
        self._timer.start()
        document.undo_stack.cleanChanged.connect(self._on_clean_changed)

    def autosave(self) -> None:
        """Write the document if it has unsaved changes not yet autosaved (atomically, never blocking an edit)."""
        if not self.document.dirty or self.document.arch is self._written:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        if self._lock is None:
            self._lock = QLockFile(str(self.path.with_suffix(".lock")))
            self._lock.setStaleLockTime(0)
            self._lock.tryLock(0)
        record = {"original": str(self.document.path) if self.document.path else None, "saved_at": time.time(),
                  "document": self.document.arch.to_dict()}
        file = QSaveFile(str(self.path))
        if file.open(QSaveFile.WriteOnly):
            file.write(json.dumps(record).encode())
            if file.commit():
                self._written = self.document.arch

    def discard(self) -> None:
        """Forget the autosave (the document was saved, or closed on purpose)."""
        self.path.unlink(missing_ok=True)
        self._written = None

    def close(self) -> None:
        self._timer.stop()
        self.discard()
        if self._lock is not None:
            self._lock.unlock()
            self._lock = None

    def _on_clean_changed(self, clean: bool) -> None:
        if clean:
            self.discard()

    def orphans(self) -> list[Recovered]:
        """Autosaves of sessions no longer running, newest first; unreadable ones are removed."""
        found = []
        for path in self.directory.glob("recovery-*.json") if self.directory.is_dir() else ():
            lock = QLockFile(str(path.with_suffix(".lock")))
            lock.setStaleLockTime(0)
            if path == self.path or not lock.tryLock(0):
                continue    # ours, or a session that is still open
            lock.unlock()
            try:
                record = json.loads(fileio.read_bytes(path))
                original = Path(record["original"]) if record.get("original") else None
                found.append(Recovered(path, engine.from_dict(record["document"]), original, float(record["saved_at"])))
            except (OSError, ValueError, KeyError, TypeError):
                path.unlink(missing_ok=True)
        return sorted(found, key=lambda r: r.saved_at, reverse=True)

    @staticmethod
    def forget(recovered: Recovered) -> None:
        recovered.path.unlink(missing_ok=True)
        recovered.path.with_suffix(".lock").unlink(missing_ok=True)
