"""Small editors that emit `edited(value)` only when the user finishes a change, and a form built from a
pydantic model (used for each dataset's own parameters: paths get a file or folder picker, sizes two boxes)."""
from __future__ import annotations

import math
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from PySide6.QtCore import Signal
from PySide6.QtGui import QDoubleValidator
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                               QPushButton, QSpinBox, QWidget)

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


class PathEdit(QWidget):
    """A path typed in, or picked with a file or folder dialog ('Browse…'); `kind` is 'file' or 'folder'."""

    edited = Signal(object)

    def __init__(self, kind: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.kind = kind
        self.line = QLineEdit(placeholderText=f"a {kind} on this computer")
        self.line.editingFinished.connect(lambda: self.edited.emit(self.line.text().strip()))
        self.browse = QPushButton("Browse…", toolTip=f"Pick the {kind}.")
        self.browse.clicked.connect(self.choose)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.line, 1)
        layout.addWidget(self.browse)

    def set_value(self, value: str) -> None:
        self.line.setText(str(value))

    def ask_path(self) -> str:
        """The path the person picks ('' when cancelled); tests replace it."""
        if self.kind == "folder":
            return QFileDialog.getExistingDirectory(self, "Choose a folder", self.line.text())
        return QFileDialog.getOpenFileName(self, "Choose a file", self.line.text())[0]

    def choose(self) -> None:
        path = self.ask_path()
        if path:
            self.line.setText(path)
            self.edited.emit(path)


class IntTupleEdit(QWidget):
    """A fixed number of integers side by side (a size: height and width)."""

    edited = Signal(object)

    def __init__(self, items: list[FieldInfo], parent: QWidget | None = None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.boxes = [IntEdit(*bounds(item)) for item in items]
        for index, box in enumerate(self.boxes):
            if index:
                layout.addWidget(QLabel("×"))
            box.edited.connect(lambda _value: self.edited.emit([b.value() for b in self.boxes]))
            layout.addWidget(box, 1)

    def set_value(self, value) -> None:
        for box, item in zip(self.boxes, value):
            box.set_value(item)


def tuple_items(kind) -> list[FieldInfo] | None:
    """The per-item FieldInfos of a `tuple[Annotated[int, Field(...)], ...]` annotation, else None."""
    if get_origin(kind) is not tuple:
        return None
    items = [FieldInfo.from_annotation(arg) for arg in get_args(kind)]
    return items if items and all(item.annotation is int for item in items) else None


def editor_for(info: FieldInfo) -> QWidget:
    """The editor matching a pydantic field's type and bounds."""
    kind = info.annotation
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    if extra.get("picker") in ("file", "folder"):
        return PathEdit(extra["picker"])
    if (items := tuple_items(kind)) is not None:
        return IntTupleEdit(items)
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
