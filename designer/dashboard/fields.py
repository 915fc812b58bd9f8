"""Small editors that emit `edited(value)` only when the user finishes a change, and a form built from a
pydantic model (used for each dataset's own parameters)."""
from __future__ import annotations

import math
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from PySide6.QtCore import Signal
from PySide6.QtGui import QDoubleValidator
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QLineEdit, QSpinBox, QWidget

INT_LIMIT = 2**31 - 1


def bounds(info: FieldInfo) -> tuple[float | None, float | None]:
    """The (low, high) a field accepts, from its ge/gt/le/lt constraints."""
    low = high = None
    for item in info.metadata:
        low = getattr(item, "ge", getattr(item, "gt", low))
        high = getattr(item, "le", getattr(item, "lt", high))
    return low, high


class IntEdit(QSpinBox):
    edited = Signal(object)

    def __init__(self, low: float | None = None, high: float | None = None, parent: QWidget | None = None):
        super().__init__(parent, keyboardTracking=False)
        self.setRange(int(max(low, -INT_LIMIT)) if low is not None else -INT_LIMIT,
                      int(min(high, INT_LIMIT)) if high is not None else INT_LIMIT)
        self.valueChanged.connect(self._on_value_changed)

    def set_value(self, value: int) -> None:
        self.blockSignals(True)
        self.setValue(int(value))
        self.blockSignals(False)

    def _on_value_changed(self, value: int) -> None:
        self.edited.emit(value)


class FloatEdit(QLineEdit):
    """A float typed in any notation (1e-3, 0.001), applied on Enter or when focus leaves."""

    edited = Signal(object)

    def __init__(self, low: float | None = None, high: float | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        validator = QDoubleValidator(self)
        validator.setNotation(QDoubleValidator.ScientificNotation)
        validator.setRange(low if low is not None else -math.inf, high if high is not None else math.inf, 12)
        self.setValidator(validator)
        self._value: float | None = None
        self.editingFinished.connect(self._on_finished)

    def value(self) -> float | None:
        return self._value

    def set_value(self, value: float | None) -> None:
        self._value = value
        self.setText("" if value is None else f"{value:g}")

    def _on_finished(self) -> None:
        try:
            value = float(self.text())
        except ValueError:
            self.set_value(self._value)
            return
        if value != self._value:
            self._value = value
            self.edited.emit(value)


class BoolEdit(QCheckBox):
    edited = Signal(object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.clicked.connect(lambda checked: self.edited.emit(bool(checked)))

    def set_value(self, value: bool) -> None:
        self.setChecked(bool(value))


class ChoiceEdit(QComboBox):
    """A combo box over fixed values, shown by their labels."""

    edited = Signal(object)

    def __init__(self, choices, parent: QWidget | None = None):
        super().__init__(parent)
        for choice in choices:
            value, label = choice if isinstance(choice, tuple) else (choice, str(choice))
            self.addItem(label, value)
        self.activated.connect(lambda index: self.edited.emit(self.itemData(index)))

    def set_value(self, value: Any) -> None:
        index = self.findData(value)
        if index < 0:
            self.addItem(str(value), value)
            index = self.count() - 1
        self.setCurrentIndex(index)


class TextEdit(QLineEdit):
    edited = Signal(object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.editingFinished.connect(lambda: self.edited.emit(self.text()))

    def set_value(self, value: str) -> None:
        self.setText(str(value))


def editor_for(info: FieldInfo) -> QWidget:
    """The editor matching a pydantic field's type and bounds."""
    kind = info.annotation
    if get_origin(kind) is Literal:
        return ChoiceEdit(get_args(kind))
    if kind is bool:
        return BoolEdit()
    if kind is int:
        return IntEdit(*bounds(info))
    if kind is float:
        return FloatEdit(*bounds(info))
    return TextEdit()


class ModelForm(QWidget):
    """One row per field of a pydantic model; `edited(name, value)` when the user changes one."""

    edited = Signal(str, object)

    def __init__(self, model: type[BaseModel], parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        layout = QFormLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.editors: dict[str, QWidget] = {}
        for name, info in model.model_fields.items():
            editor = editor_for(info)
            editor.setToolTip(info.description or "")
            editor.edited.connect(lambda value, name=name: self.edited.emit(name, value))
            layout.addRow(name.replace("_", " "), editor)
            self.editors[name] = editor

    def set_values(self, values: dict) -> None:
        """Show `values`, with each missing field at its default."""
        for name, info in self.model.model_fields.items():
            self.editors[name].set_value(values.get(name, info.get_default(call_default_factory=True)))
