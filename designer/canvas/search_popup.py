"""The search popup at the cursor: type part of a layer's name, an alias or what it does; Enter adds the best match."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, Qt, Signal
from PySide6.QtWidgets import QFrame, QLabel, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from ..layer_search import Choice, search
from ..panel_style import category_icon, mute

WIDTH, ROWS = 340, 9


class SearchPopup(QFrame):
    """A search box over a ranked list; `chosen` carries the picked Choice. Escape or a click elsewhere closes it."""

    chosen = Signal(object)

    def __init__(self, parent: QWidget):
        super().__init__(parent, Qt.Popup)
        self.setFrameShape(QFrame.StyledPanel)
        self.title = mute(QLabel())
        self.field = QLineEdit(placeholderText="Search layers: name, alias (fc, bilstm) or what it does")
        self.results = QListWidget(uniformItemSizes=True)
        self.results.setFocusPolicy(Qt.NoFocus)
        self.doc = mute(QLabel(wordWrap=True))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        for widget in (self.title, self.field, self.results, self.doc):
            layout.addWidget(widget)
        self.setFixedWidth(WIDTH)
        self.results.setFixedHeight(ROWS * 22)
        self._among: list[Choice] = []
        self.field.textChanged.connect(self._refresh)
        self.field.returnPressed.connect(self._pick)
        self.field.installEventFilter(self)
        self.results.itemClicked.connect(lambda _: self._pick())
        self.results.currentRowChanged.connect(self._on_current_changed)

    def open(self, at: QPoint, among: list[Choice], title: str = "") -> None:
        """Show the popup with its corner at global `at`, offering `among`."""
        self._among = among
        self.title.setText(title)
        self.title.setVisible(bool(title))
        self.field.clear()
        self._refresh("")
        self.move(at)
        self.show()
        self.raise_()
        self.field.setFocus()

    def shown(self) -> list[str]:
        """The names listed, best first (for tests)."""
        return [self.results.item(i).text() for i in range(self.results.count())]

    def _refresh(self, text: str) -> None:
        self.results.clear()
        for choice in search(text, self._among):
            item = QListWidgetItem(category_icon(choice.category), choice.name)
            item.setData(Qt.UserRole, choice)
            item.setToolTip(f"{choice.category}: {choice.doc}")
            self.results.addItem(item)
        self.results.setCurrentRow(0)
        if not self.results.count():
            self.doc.setText("No layer matches")

    def _on_current_changed(self, row: int) -> None:
        item = self.results.item(row)
        if item is not None:
            self.doc.setText(item.data(Qt.UserRole).doc)

    def _pick(self) -> None:
        item = self.results.currentItem()
        if item is not None:
            self.hide()
            self.chosen.emit(item.data(Qt.UserRole))

    def eventFilter(self, watched, event) -> bool:
        """Up and Down move through the results while typing goes on in the field."""
        if watched is self.field and event.type() == QEvent.KeyPress and event.key() in (Qt.Key_Up, Qt.Key_Down):
            step = 1 if event.key() == Qt.Key_Down else -1
            row = min(max(self.results.currentRow() + step, 0), self.results.count() - 1)
            self.results.setCurrentRow(row)
            return True
        return super().eventFilter(watched, event)
