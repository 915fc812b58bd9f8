"""The template gallery: pick a ready-made network to start from, with its description as a preview."""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from types import SimpleNamespace

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QScrollArea, QVBoxLayout, QWidget,
)

import engine

from .palette import display_name
from .panel_style import mute, section

TEMPLATES = Path(engine.__file__).resolve().parent.parent / "templates"


def templates() -> list:
    """Every template (path, name, description), in gallery order."""
    found = []
    for path in sorted(TEMPLATES.glob("*.json")):
        arch = engine.load(path)
        found.append(SimpleNamespace(path=path, name=arch.name or path.stem, description=arch.description))
    return found


def network_text(arch: engine.Architecture) -> str:
    """'10 nodes: Input, Conv 2D ×2, ReLU ×2, ...' in document order."""
    counts = Counter(display_name(n) for n in arch.nodes)
    return f"{len(arch.nodes)} nodes: " + ", ".join(f"{name} ×{k}" if k > 1 else name for name, k in counts.items())


def training_text(arch: engine.Architecture) -> str:
    """'digits · cross_entropy loss · adam, lr 0.003 · 20 epochs', or a note that there is none."""
    t = arch.training
    if t is None:
        return "No training set up."
    return f"{t.dataset.name} · {t.loss} loss · {t.optimizer.name}, lr {t.optimizer.lr:g} · {t.epochs} epochs"


class TemplateGalleryDialog(QDialog):
    """Lists every template; `selected_path()` is the chosen one after the dialog is accepted."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("New from template")
        self.resize(760, 440)
        self.list = QListWidget(uniformItemSizes=True)
        self.list.setStyleSheet("QListWidget::item { padding: 6px 4px; }")
        self.list.setMinimumWidth(260)
        self.title = QLabel(wordWrap=True)
        self.detail = QLabel(wordWrap=True)
        mute(self.detail)
        self.description = QLabel(wordWrap=True, alignment=Qt.AlignTop | Qt.AlignLeft)
        self.description.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.network = QLabel(wordWrap=True)
        self.training = QLabel(wordWrap=True)
        preview = QWidget()
        column = QVBoxLayout(preview)
        column.setContentsMargins(12, 6, 12, 6)
        column.addWidget(self.title)
        column.addWidget(self.detail)
        column.addSpacing(6)
        column.addWidget(self.description)
        column.addWidget(section("Network"))
        column.addWidget(self.network)
        column.addWidget(section("Training"))
        column.addWidget(self.training)
        column.addStretch(1)
        scroll = QScrollArea(widgetResizable=True, frameShape=QScrollArea.NoFrame)
        scroll.setWidget(preview)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Open | QDialogButtonBox.Cancel)
        body = QHBoxLayout()
        body.addWidget(self.list, 2)
        body.addWidget(scroll, 3)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addWidget(self.buttons)
        for info in templates():
            item = QListWidgetItem(info.name, self.list)
            item.setData(Qt.UserRole, info)
            item.setToolTip(info.description)
        self.list.currentItemChanged.connect(self._on_current_changed)
        self.list.itemDoubleClicked.connect(self.accept)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.list.setCurrentRow(0)

    def selected_path(self) -> Path | None:
        item = self.list.currentItem()
        return Path(item.data(Qt.UserRole).path) if item else None

    def _on_current_changed(self, item: QListWidgetItem | None) -> None:
        info = item.data(Qt.UserRole) if item else None
        self.buttons.button(QDialogButtonBox.Open).setEnabled(info is not None)
        self.title.setText(f"<b style='font-size:16px'>{info.name}</b>" if info else "")
        self.detail.setText(Path(info.path).name if info else "")
        self.description.setText(info.description if info else "")
        arch = engine.load(info.path) if info else None
        self.network.setText(network_text(arch) if arch else "")
        self.training.setText(training_text(arch) if arch else "")
