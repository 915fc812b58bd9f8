"""A confusion matrix as a heatmap with counts, scaled to the space it has (rows: true class, columns: predicted)."""
from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from layerloom.designer import theme

MARGIN = 6
FONT_PX = (7, 14)       # count labels grow with the cells, within these sizes


def cell_color(share: float) -> str:
    """A cell's shade: the theme's base color for nothing, its 'train' color for a whole row."""
    return theme.mix(theme.hex_of("train"), theme.hex_of("base"), 0.08 + 0.92 * share)


class ConfusionMatrix(QWidget):
    """Each cell shaded by its share of its row and labelled with its count; hover for the numbers."""

    def __init__(self, matrix: list[list[int]], labels: list[str] | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.matrix = matrix
        size = len(matrix)
        self.labels = [str(label) for label in labels] if labels and len(labels) == size else [str(i) for i in range(size)]
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setMinimumSize(120, 120)
        self.setMouseTracking(True)

    def sizeHint(self) -> QSize:
        return QSize(420, 380)

    def _font(self, cell: float) -> QFont:
        font = QFont(self.font())
        font.setPixelSize(int(min(max(cell * 0.36, FONT_PX[0]), FONT_PX[1])))
        return font

    def geometry_of(self) -> tuple[QRectF, float, QFont]:
        """The grid's rectangle, a cell's side and the font, for the widget's current size."""
        size = max(len(self.matrix), 1)
        probe = QFontMetricsF(self._font(FONT_PX[1] / 0.36))
        left = max(probe.horizontalAdvance(label) for label in self.labels) + MARGIN * 2 + probe.height()
        top = probe.height() * 2 + MARGIN
        cell = max(min((self.width() - left - MARGIN) / size, (self.height() - top - MARGIN) / size), 1.0)
        return QRectF(left, top, cell * size, cell * size), cell, self._font(cell)

    def cell_rect(self, row: int, col: int) -> QRectF:
        grid, cell, _ = self.geometry_of()
        return QRectF(grid.left() + col * cell, grid.top() + row * cell, cell, cell)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.Antialiasing)
        grid, cell, font = self.geometry_of()
        painter.setFont(font)
        text = theme.color("text")
        painter.setPen(text)
        painter.drawText(QRectF(grid.left(), 0, grid.width(), grid.top() / 2), Qt.AlignCenter, "predicted")
        painter.save()
        painter.translate(MARGIN, grid.center().y())
        painter.rotate(-90)
        painter.drawText(QRectF(-grid.height() / 2, 0, grid.height(), QFontMetricsF(font).height()), Qt.AlignCenter,
                         "true")
        painter.restore()
        for index, label in enumerate(self.labels):
            painter.setPen(text)
            painter.drawText(QRectF(grid.left() + index * cell, grid.top() / 2, cell, grid.top() / 2),
                             Qt.AlignCenter, label)
            painter.drawText(QRectF(0, grid.top() + index * cell, grid.left() - MARGIN, cell),
                             Qt.AlignRight | Qt.AlignVCenter, label)
        for row, counts in enumerate(self.matrix):
            total = sum(counts) or 1
            for col, count in enumerate(counts):
                rect = self.cell_rect(row, col)
                back = cell_color(count / total)
                painter.fillRect(rect, QColor(back))
                painter.setPen(QColor(theme.readable_on(back)))
                painter.drawText(rect, Qt.AlignCenter, str(count))
        painter.setPen(theme.color("border"))
        painter.drawRect(grid)

    def mouseMoveEvent(self, event) -> None:
        grid, cell, _ = self.geometry_of()
        point = event.position()
        if grid.contains(point):
            row, col = int((point.y() - grid.top()) // cell), int((point.x() - grid.left()) // cell)
            count, total = self.matrix[row][col], sum(self.matrix[row]) or 1
            QToolTip.showText(event.globalPosition().toPoint(), f"true {self.labels[row]}, predicted "
                              f"{self.labels[col]}: {count} ({count / total:.0%} of the row)", self)
        else:
            QToolTip.hideText()
