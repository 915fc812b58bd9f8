"""Forms generated from pydantic models: one editor per field, kind and bounds read from the field's own
annotation and constraints, inline errors, and a commit signal per finished entry.

The one form generator of the designer: the inspector's layer params, the Train panel's settings and each
dataset's params. (magicgui, napari's generator, was considered: it has no editor for our unions such as
`3 | (3, 5) | 'same'`, no per-field error line, and its pydantic support is experimental.)
"""
from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton,
    QSpinBox, QVBoxLayout, QWidget,
)

from . import theme
from .form_fields import bounds, editor_kind, field_label, format_value, parse_text, text_hint
from .panel_style import mute

INT_LIMIT = 2**31 - 1   # what a QSpinBox holds; larger bounds are clipped to it


def error_label() -> QLabel:
    """The hidden red line under an editor that explains why its entry was refused."""
    label = QLabel(visible=False, wordWrap=True)
    label.setStyleSheet("font-size: 11px;")
    return theme.set_role(label, "error")


def show_error(editor: QWidget, label: QLabel, message: str | None) -> None:
    """Show (or clear) `message` in `label` and a red border around `editor`."""
    label.setText(message or "")
    label.setVisible(bool(message))
    editor.setProperty("invalid", bool(message))
    editor.style().unpolish(editor)
    editor.style().polish(editor)


class _FocusedWheel:
    """Mixin: the wheel scrolls the form instead of changing a value the user is not editing."""

    def wheelEvent(self, event) -> None:
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()


class SpinBox(_FocusedWheel, QSpinBox):
    """An int spin box that commits on Enter, focus loss or a step, never per keystroke."""

    def __init__(self, low, high):
        super().__init__(keyboardTracking=False, focusPolicy=Qt.StrongFocus)
        self.setRange(-INT_LIMIT if low is None else int(max(low, -INT_LIMIT)),
                      INT_LIMIT if high is None else int(min(high, INT_LIMIT)))


class FloatSpinBox(_FocusedWheel, QDoubleSpinBox):
    """A float spin box showing compact numbers (1e-05, 0.1), stepping a tenth of the default's magnitude."""

    def __init__(self, low, high, default):
        super().__init__(keyboardTracking=False, focusPolicy=Qt.StrongFocus, decimals=12)
        self.setRange(low if low is not None else -1e9, high if high is not None else 1e9)
        scale = abs(default) if default else (high or 1.0)
        self.setSingleStep(10 ** math.floor(math.log10(scale)) / 10)

    def textFromValue(self, value: float) -> str:
        return f"{value:.6g}"

    def valueFromText(self, text: str) -> float:
        return float(text)

    def validate(self, text: str, pos: int):
        try:
            ok = self.minimum() <= float(text) <= self.maximum()
        except ValueError:
            ok = False
        return (QValidator.Acceptable if ok else QValidator.Intermediate), text, pos


def _row(widget: QWidget) -> QHBoxLayout:
    layout = QHBoxLayout(widget)
    layout.setContentsMargins(0, 0, 0, 0)
    return layout


class PathEdit(QWidget):
    """A path typed in, or picked with a file or folder dialog ('Browse…'); `kind` is 'file' or 'folder'."""

    edited = Signal()

    def __init__(self, kind: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.kind = kind
        self.line = QLineEdit(placeholderText=f"a {kind} on this computer")
        self.line.editingFinished.connect(self.edited)
        self.browse = QPushButton("Browse…", toolTip=f"Pick the {kind}.")
        self.browse.clicked.connect(self.choose)
        row = _row(self)
        row.addWidget(self.line, 1)
        row.addWidget(self.browse)

    def value(self) -> str:
        return self.line.text().strip()

    def set_value(self, value: str | None) -> None:
        self.line.setText(value or "")

    def ask_path(self) -> str:
        """The path the person picks ('' when cancelled); tests replace it."""
        if self.kind == "folder":
            return QFileDialog.getExistingDirectory(self, "Choose a folder", self.line.text())
        return QFileDialog.getOpenFileName(self, "Choose a file", self.line.text())[0]

    def choose(self) -> None:
        path = self.ask_path()
        if path:
            self.line.setText(path)
            self.edited.emit()


class IntsEdit(QWidget):
    """A fixed number of integers side by side (a size: height × width), each with its own bounds."""

    edited = Signal()

    def __init__(self, items: list[list], parent: QWidget | None = None):
        super().__init__(parent)
        self.boxes = [SpinBox(*bounds(constraints)) for constraints in items]
        row = _row(self)
        for index, box in enumerate(self.boxes):
            if index:
                row.addWidget(QLabel("×"))
            box.valueChanged.connect(self.edited)
            row.addWidget(box, 1)

    def value(self) -> list[int]:
        return [box.value() for box in self.boxes]

    def set_value(self, value) -> None:
        for box, item in zip(self.boxes, value or ()):
            box.blockSignals(True)
            box.setValue(item)
            box.blockSignals(False)


class FieldEditor(QWidget):
    """One field: its editor (behind an enabling checkbox when optional) and an error line under it.

    `choices` ((value, label) pairs or values) offers those instead of what the annotation allows, and `required`
    drops the enabling checkbox of an optional field (when another editor decides whether it is set).
    """

    committed = Signal(str, object)

    def __init__(self, name: str, field: FieldInfo, parent: QWidget | None = None, *, choices=None,
                 required: bool = False):
        super().__init__(parent)
        self.name, self._shown = name, object()
        self.kind, optional, self._extra = editor_kind(field)
        if choices is not None:
            self.kind, optional, self._extra = "choice", False, list(choices)
        self.editor = self._make_editor(field)
        self.editor.setToolTip(field.description or "")
        self.enable = QCheckBox(toolTip="Set a value (unchecked: None)") if optional and not required else None
        self.error = error_label()
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        if self.enable:
            row.addWidget(self.enable)
            self.enable.toggled.connect(self._on_enable_changed)
        row.addWidget(self.editor, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(row)
        layout.addWidget(self.error)

    def _make_editor(self, field: FieldInfo) -> QWidget:
        if self.kind == "bool":
            editor = QCheckBox()
            editor.toggled.connect(self._commit)
        elif self.kind in ("int", "float"):
            low, high = bounds(self._extra)
            default = field.default if isinstance(field.default, (int, float)) else None
            editor = SpinBox(low, high) if self.kind == "int" else FloatSpinBox(low, high, default)
            editor.valueChanged.connect(self._commit)
        elif self.kind == "choice":
            editor = QComboBox(focusPolicy=Qt.StrongFocus)
            for choice in self._extra:
                value, label = choice if isinstance(choice, tuple) else (choice, str(choice))
                editor.addItem(label, value)
            editor.activated.connect(self._commit)
        elif self.kind == "str":
            editor = QLineEdit()
            editor.editingFinished.connect(self._commit)
        elif self.kind in ("path", "ints"):
            editor = PathEdit(self._extra[0]) if self.kind == "path" else IntsEdit(self._extra)
            editor.edited.connect(self._commit)
        else:
            editor = QLineEdit(placeholderText=text_hint(self._extra))
            editor.editingFinished.connect(self._commit)
        if self.kind in ("int", "float", "choice"):  # as tall as the line edits next to them
            editor.setMinimumHeight(QLineEdit().sizeHint().height())
        return editor

    def value(self) -> Any:
        """The editor's value as a params value; raises ValueError for text that is not one."""
        if self.enable and not self.enable.isChecked():
            return None
        if self.kind == "bool":
            return self.editor.isChecked()
        if self.kind in ("int", "float"):
            return self.editor.value()
        if self.kind == "choice":
            return self.editor.currentData()
        if self.kind == "str":
            return self.editor.text()
        if self.kind in ("path", "ints"):
            return self.editor.value()
        if not self.editor.text().strip():
            raise ValueError("Enter a value: " + text_hint(self._extra))
        return parse_text(self.editor.text(), self._extra)

    def set_value(self, value: Any) -> None:
        """Show the model's value (skipped when unchanged, so a refused entry stays visible)."""
        if value == self._shown and type(value) is type(self._shown):
            return
        self._shown = value
        widgets = [self.editor, *([self.enable] if self.enable else [])]
        for widget in widgets:
            widget.blockSignals(True)
        if self.enable:
            self.enable.setChecked(value is not None)
            self.editor.setEnabled(value is not None)
        if self.kind == "bool":
            self.editor.setChecked(bool(value))
        elif self.kind in ("int", "float"):
            self.editor.setSpecialValueText("None" if value is None else "")
            self.editor.setValue(self.editor.minimum() if value is None else value)
        elif self.kind == "choice":
            if self.editor.findData(value) < 0:  # shown as it is, e.g. a device this machine lacks
                self.editor.addItem(str(value), value)
            self.editor.setCurrentIndex(self.editor.findData(value))
        elif self.kind == "str":
            self.editor.setText(value or "")
        elif self.kind in ("path", "ints"):
            self.editor.set_value(value)
        else:
            self.editor.setText(format_value(value))
            self.editor.setPlaceholderText("None" if value is None else text_hint(self._extra))
        for widget in widgets:
            widget.blockSignals(False)
        self.show_error(None)

    def show_error(self, message: str | None) -> None:
        show_error(self.editor, self.error, message)

    def _on_enable_changed(self, enabled: bool) -> None:
        self.editor.setEnabled(enabled)
        if self.kind in ("int", "float"):
            self.editor.setSpecialValueText("")
        elif self.kind == "text" and enabled and not self.editor.text().strip():
            self.editor.setText("1")
        self._commit()

    def _commit(self) -> None:
        try:
            value = self.value()
        except ValueError as error:
            self.show_error(str(error))
            return
        self.committed.emit(self.name, value)


class ModelForm(QWidget):
    """Editors for every field of a pydantic model; emits `committed(field, value)` for each finished entry."""

    committed = Signal(str, object)

    def __init__(self, model: type[BaseModel], parent: QWidget | None = None, empty: str = "No parameters."):
        super().__init__(parent)
        self.model = model
        self.editors: dict[str, FieldEditor] = {}
        layout = QFormLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        layout.setLabelAlignment(Qt.AlignRight | Qt.AlignVCenter)
        for name, field in model.model_fields.items():
            editor = self.editors[name] = FieldEditor(name, field)
            editor.committed.connect(self.committed)
            label = QLabel(field_label(name), toolTip=field.description or "")
            label.setBuddy(editor.editor)
            layout.addRow(label, editor)
        if not self.editors:
            layout.addRow(mute(QLabel(empty)))

    def set_values(self, values: BaseModel | dict) -> None:
        """Show a model's values, or a dict's (a missing field shows its default)."""
        data = values if isinstance(values, dict) else dict(values)
        for name, editor in self.editors.items():
            field = self.model.model_fields[name]
            editor.set_value(data[name] if name in data else field.get_default(call_default_factory=True))

    def show_error(self, name: str, message: str | None) -> None:
        self.editors[name].show_error(message)
