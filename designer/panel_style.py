"""Colours, icons and headings shared by the side panels (palette, inspector, problems, summary)."""
from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QLabel, QWidget

ERROR_COLOR = "#d8453b"
OK_COLOR = "#3fae5a"
CATEGORY_COLORS: dict[str, str] = {
    "Inputs and outputs": "#4f7cac",
    "Dense": "#7b61c4",
    "Convolution": "#2f9e8f",
    "Pooling": "#5aa469",
    "Recurrent": "#d0812f",
    "Normalization": "#b0a033",
    "Activations": "#c8577a",
    "Merge and residual": "#8a6d4f",
    "Reshaping": "#6f7f8f",
}


def _icon(size: int, paint) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.Antialiasing)
    painter.setPen(Qt.NoPen)
    paint(painter)
    painter.end()
    return QIcon(pixmap)


@lru_cache(maxsize=None)
def category_icon(category: str, size: int = 12) -> QIcon:
    """A rounded swatch in the category's colour."""
    def paint(painter: QPainter) -> None:
        painter.setBrush(QColor(CATEGORY_COLORS.get(category, "#888888")))
        painter.drawRoundedRect(QRectF(1, 1, size - 2, size - 2), 3, 3)
    return _icon(size, paint)


def badge_icon(color: str, glyph: str, size: int = 16) -> QIcon:
    """A filled circle with a white glyph, e.g. '!' for a problem."""
    def paint(painter: QPainter) -> None:
        painter.setBrush(QColor(color))
        painter.drawEllipse(QRectF(1, 1, size - 2, size - 2))
        font = QFont()
        font.setBold(True)
        font.setPixelSize(size - 5)
        painter.setFont(font)
        painter.setPen(QColor("white"))
        painter.drawText(QRectF(0, 0, size, size), Qt.AlignCenter, glyph)
    return _icon(size, paint)


def mute(widget: QWidget, alpha: int = 150) -> QWidget:
    """Soften a widget's text (secondary information) in a way that follows light and dark themes."""
    palette = widget.palette()
    for role in (QPalette.WindowText, QPalette.Text):
        color = palette.color(role)
        color.setAlpha(alpha)
        palette.setColor(role, color)
    widget.setPalette(palette)
    return widget


def section(title: str) -> QLabel:
    """A small upper-case heading between the sections of a panel."""
    label = QLabel(title.upper())
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 0.8)
    font.setBold(True)
    font.setLetterSpacing(QFont.AbsoluteSpacing, 1.0)
    label.setFont(font)
    label.setContentsMargins(0, 10, 0, 2)
    return mute(label, 130)
