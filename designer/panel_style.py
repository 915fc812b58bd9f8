"""Icons and headings shared by the side panels (palette, inspector, problems, summary); colors from the theme."""
from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QWidget

from . import theme



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
        painter.setBrush(QColor(theme.current().category(category)))
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
        painter.setPen(theme.color("header_text"))
        painter.drawText(QRectF(0, 0, size, size), Qt.AlignCenter, glyph)
    return _icon(size, paint)


def mute(widget: QWidget) -> QWidget:
    """Secondary text: the theme's muted color (which keeps 4.5:1 on the panels)."""
    return theme.set_role(widget, "muted")


def section(title: str) -> QLabel:
    """A small upper-case heading between the sections of a panel."""
    label = QLabel(title.upper())
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 0.8)
    font.setBold(True)
    font.setLetterSpacing(QFont.AbsoluteSpacing, 1.0)
    label.setFont(font)
    label.setContentsMargins(0, 10, 0, 2)
    return theme.set_role(label, "section")
