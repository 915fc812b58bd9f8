"""The template gallery: pick a ready-made network to start from, with a preview of what it is and what it shows."""
from __future__ import annotations

from collections import Counter
from html import escape
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QScrollArea, QVBoxLayout, QWidget,
)

from layerloom import engine
from layerloom.engine.templates import TemplateInfo, gallery

from .palette import display_name
from .panel_style import mute, section

INFO_ROLE = Qt.UserRole + 1


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


def outcome_text(info: TemplateInfo) -> str:
    """What the default training reaches, and the diagnoses the dashboard should raise."""
    lines = [f"• {escape(target.describe())}" for target in info.targets]
    lines += [f"• the dashboard reports <i>{escape(kind)}</i> gradients" for kind in info.diagnoses]
    return "<br>".join(lines)


class TemplateGalleryDialog(QDialog):
    """Lists every template by section; `selected_path()` is the chosen one after the dialog is accepted."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("New from template")
        self.resize(820, 500)
        self.list = QListWidget()
        self.list.setStyleSheet("QListWidget { outline: 0; } QListWidget::item { padding: 5px 4px; }")
        self.list.setMinimumWidth(280)
        self.title = QLabel(wordWrap=True)
        self.detail = mute(QLabel())
        self.description = QLabel(wordWrap=True, textInteractionFlags=Qt.TextSelectableByMouse)
        self.outcome = QLabel(wordWrap=True, textFormat=Qt.RichText)
        self.network = QLabel(wordWrap=True)
        self.training = QLabel(wordWrap=True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Open | QDialogButtonBox.Cancel)

        preview = QWidget()
        column = QVBoxLayout(preview)
        column.setContentsMargins(14, 4, 8, 4)
        for widget in (self.title, self.detail, self.description, section("What its training reaches"), self.outcome,
                       section("Network"), self.network, section("Training"), self.training):
            column.addWidget(widget)
        column.addStretch(1)
        scroll = QScrollArea(widgetResizable=True, frameShape=QScrollArea.NoFrame)
        scroll.setWidget(preview)
        body = QHBoxLayout()
        body.addWidget(self.list, 2)
        body.addWidget(scroll, 3)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addWidget(self.buttons)
        self._populate()
        self.list.currentItemChanged.connect(self._on_current_changed)
        self.list.itemDoubleClicked.connect(self._on_item_double_clicked)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.list.setCurrentItem(next(self.items(), None))

    def _populate(self) -> None:
        current_section = None
        for info in gallery():
            if info.section != current_section:
                current_section = info.section
                header = QListWidgetItem(info.section.upper(), self.list)
                header.setFlags(Qt.NoItemFlags)
                font = header.font()
                font.setBold(True)
                font.setPointSizeF(font.pointSizeF() * 0.85)
                header.setFont(font)
            item = QListWidgetItem(info.name, self.list)
            item.setData(INFO_ROLE, info)
            item.setToolTip(info.description)

    def items(self):
        """The template items, in gallery order (not the section headers)."""
        return (item for item in map(self.list.item, range(self.list.count())) if item.data(INFO_ROLE))

    def selected_path(self) -> Path | None:
        item = self.list.currentItem()
        info = item.data(INFO_ROLE) if item else None
        return info.path if info else None

    def _on_item_double_clicked(self, item: QListWidgetItem) -> None:
        if item.data(INFO_ROLE):
            self.accept()

    def _on_current_changed(self, item: QListWidgetItem | None) -> None:
        info: TemplateInfo | None = item.data(INFO_ROLE) if item else None
        self.buttons.button(QDialogButtonBox.Open).setEnabled(info is not None)
        arch = engine.load(info.path) if info else None
        self.title.setText(f"<b style='font-size:16px'>{escape(info.name)}</b>" if info else "")
        self.detail.setText(f"{info.section} · {info.file}" if info else "")
        self.description.setText(info.description if info else "")
        self.outcome.setText(outcome_text(info) if info else "")
        self.network.setText(network_text(arch) if arch else "")
        self.training.setText(training_text(arch) if arch else "")
