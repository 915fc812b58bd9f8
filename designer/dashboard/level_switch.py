"""The level the gradient charts draw at: each layer, or each block copy (the monitor's norm of every gradient
inside it), for documents built of blocks."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QLabel, QToolButton, QWidget

from layerloom.designer import theme

LEVELS = (("layers", "Layers", "One line per layer, inside blocks too (stage2.1.conv1)"),
          ("blocks", "Blocks", "One line per block copy (stage2.1): the norm of every gradient inside it"))


class LevelSwitch(QWidget):
    """'Gradients per: [Layers] [Blocks]'; `changed` carries 'layers' or 'blocks'."""

    changed = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        row.addWidget(theme.set_role(QLabel("Gradients per:"), "muted"))
        self.group = QButtonGroup(self)
        self.buttons = {}
        for level, text, tip in LEVELS:
            button = QToolButton(text=text, toolTip=tip, checkable=True, autoRaise=True)
            self.group.addButton(button)
            row.addWidget(button)
            self.buttons[level] = button
        self.buttons["layers"].setChecked(True)
        self.group.buttonToggled.connect(self._on_toggled)

    @property
    def level(self) -> str:
        return next(level for level, button in self.buttons.items() if button.isChecked())

    def _on_toggled(self, button: QToolButton, checked: bool) -> None:
        if checked:
            self.changed.emit(self.level)
