"""The Training panel's look at the data before training: a grid of sample images with labels, or lines of text.

The dataset loads in a worker thread (a folder of photos takes a while), only while the panel is on screen."""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QGridLayout, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from layerloom.designer.background import Background
from layerloom.designer import theme
from layerloom.designer.panel_style import mute
from layerloom.engine.data import DatasetError, load_dataset
from layerloom.engine.data.preview import Preview, preview
from layerloom.engine.config import DatasetRef

from ..pictures import pixmap

COLUMNS = 6
THUMB = 44          # pixels, the longer side of a sample image
DEBOUNCE_MS = 300   # typing a path or a size loads once, after the last key
SAMPLES = 12


class DataPreview(QWidget):
    """Shows `SAMPLES` samples of the dataset a DatasetRef names; `show_dataset(ref)` asks for it."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.ref: DatasetRef | None = None
        self._shown: DatasetRef | None = None
        self.summary = mute(QLabel(wordWrap=True))
        self.grid = QGridLayout()
        self.grid.setSpacing(4)
        self.text = QPlainTextEdit(readOnly=True, maximumHeight=110, lineWrapMode=QPlainTextEdit.NoWrap)
        self.text.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        layout.addWidget(self.summary)
        layout.addLayout(self.grid)
        layout.addWidget(self.text)
        self.worker = Background(self)
        self.worker.finished.connect(self._on_loaded)
        self._timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._timer.timeout.connect(self._load)

    @property
    def loading(self) -> bool:
        return self._timer.isActive() or self.worker.busy

    def show_dataset(self, ref: DatasetRef) -> None:
        """Preview `ref` (once the panel is visible and the edits have paused)."""
        if ref == self.ref:
            return
        self.ref = ref
        if self.isVisible():
            self._timer.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.ref != self._shown:
            self._timer.start()

    def closeEvent(self, event) -> None:
        self.worker.close()
        super().closeEvent(event)

    def _load(self) -> None:
        ref = self.ref
        if ref is None:
            return
        mute(self.summary).setText(f"Loading {ref.name}…")
        self.worker.run(lambda: (ref, preview(load_dataset(ref.name, dict(ref.params)), SAMPLES)))

    def _on_loaded(self, result) -> None:
        self._clear()
        if isinstance(result, DatasetError):
            self._shown = self.ref
            theme.set_role(self.summary, "error").setText(str(result))
            return
        if isinstance(result, Exception):
            theme.set_role(self.summary, "error").setText(f"Cannot preview: {type(result).__name__}: {result}")
            return
        ref, shown = result
        self._shown = ref
        mute(self.summary)
        self.summary.setText(f"{ref.name}: {shown.summary}")
        self._fill(shown)

    def _clear(self) -> None:
        while self.grid.count():
            self.grid.takeAt(0).widget().deleteLater()
        self.text.clear()
        self.text.hide()

    def _fill(self, shown: Preview) -> None:
        for index, (picture, caption) in enumerate(shown.images):
            cell = QLabel(alignment=Qt.AlignCenter)
            cell.setPixmap(pixmap(picture, THUMB))
            cell.setToolTip(caption)
            name = mute(QLabel(caption, alignment=Qt.AlignCenter))
            holder = QWidget()
            column = QVBoxLayout(holder)
            column.setContentsMargins(0, 0, 0, 0)
            column.setSpacing(0)
            column.addWidget(cell)
            column.addWidget(name)
            self.grid.addWidget(holder, index // COLUMNS, index % COLUMNS)
        if shown.lines:
            self.text.setPlainText("\n".join(shown.lines))
            self.text.show()
