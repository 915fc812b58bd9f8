"""The simplified card drawn when the canvas is zoomed out too far to read a full card: the layer type's color,
the gradient-health tint filling the card, and the node id at a size that stays readable on screen."""
from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF

from .. import theme
from . import style

ID_PX = 12.0          # on-screen size of the id, shrunk to fit down to MIN_ID_PX
MIN_ID_PX = 8.0
BAND = 0.28           # of the card's height: the type-colored band on top


@lru_cache(maxsize=256)
def _font(pixels: int) -> QFont:
    font = QFont("DejaVu Sans")
    font.setPixelSize(max(1, pixels))
    font.setBold(True)
    return font


def text_color(background: QColor) -> QColor:
    """The light or the dark theme's card text, whichever has the higher contrast on `background`."""
    choices = (theme.THEMES["dark"]["card_text"], theme.THEMES["light"]["card_text"])
    return QColor(max(choices, key=lambda text: theme.contrast(text, background.name())))


def paint(painter, rect: QRectF, type_color: QColor, tint: QColor | None, text: str, zoom: float) -> None:
    """Fill `rect` with the tint (or the card color), band it with the type color and write `text` into it."""
    corner = style.CORNER
    fill = tint if tint is not None else style.CARD
    painter.setPen(Qt.NoPen)
    painter.setBrush(fill)
    painter.drawRoundedRect(rect, corner, corner)
    band = QRectF(rect.left(), rect.top(), rect.width(), rect.height() * BAND)
    painter.setBrush(type_color)
    painter.drawRoundedRect(band, corner, corner)
    painter.drawRect(band.adjusted(0, corner, 0, 0))
    body = rect.adjusted(6, band.height(), -6, 0)
    font = _font(int(_id_size(text, body, zoom)))
    painter.setFont(font)
    painter.setPen(text_color(fill))
    painter.drawText(body, Qt.AlignCenter, QFontMetricsF(font).elidedText(text, Qt.ElideMiddle, body.width()))


@lru_cache(maxsize=4096)
def _width_per_px(text: str) -> float:
    """The width of `text` per pixel of font size."""
    return max(0.01, QFontMetricsF(_font(100)).horizontalAdvance(text) / 100)


def _id_size(text: str, body: QRectF, zoom: float) -> float:
    """The id's font size in scene units: ID_PX on screen, less (not under MIN_ID_PX) if the id would not fit."""
    wanted = max(min(ID_PX / zoom, 0.95 * body.width() / _width_per_px(text)), MIN_ID_PX / zoom)
    return min(wanted, body.height() * 0.75)
