"""numpy pictures as Qt pixmaps: gray, colour, or values through a colour map (NaN painted as background)."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap

from layerloom.engine import fileio
from layerloom.engine.data.pictures import MAX_IMAGE_BYTES

from . import theme

MAPS_COLORMAP = "viridis"    # feature maps: dark is low, yellow is high
HEAT_COLORMAP = "inferno"    # saliency


@lru_cache(maxsize=4)
def lookup(name: str) -> np.ndarray:
    """A colour map as a (256, 3) uint8 table."""
    return pg.colormap.get(name).getLookupTable(0.0, 1.0, 256, alpha=False).astype(np.uint8)


def to_rgb(array: np.ndarray, colormap: str | None = None) -> np.ndarray:
    """(H, W) or (H, W, 3) values in [0, 1] (or uint8) as (H, W, 3) uint8; NaN in the theme's window color."""
    if array.dtype == np.uint8:
        rgb = array if array.ndim == 3 else np.repeat(array[..., None], 3, axis=2)
        return np.ascontiguousarray(rgb)
    missing = np.isnan(array)
    values = np.clip(np.nan_to_num(array, nan=0.0), 0.0, 1.0)
    if colormap:
        rgb = lookup(colormap)[(values * 255 + 0.5).astype(np.int64)]
    else:
        scaled = (values * 255 + 0.5).astype(np.uint8)
        rgb = scaled if scaled.ndim == 3 else np.repeat(scaled[..., None], 3, axis=2)
    if missing.any():
        color = theme.color("window")
        rgb[missing if missing.ndim == 2 else missing.any(axis=2)] = (color.red(), color.green(), color.blue())
    return np.ascontiguousarray(rgb)


def pixmap(array: np.ndarray, longest: int, colormap: str | None = None) -> QPixmap:
    """The picture scaled so its longer side is `longest` pixels: blocky when enlarged (each pixel stays visible)."""
    rgb = to_rgb(array, colormap)
    height, width = rgb.shape[:2]
    image = QImage(rgb.data, width, height, 3 * width, QImage.Format_RGB888).copy()
    smooth = Qt.SmoothTransformation if max(height, width) > longest else Qt.FastTransformation
    return QPixmap.fromImage(image.scaled(longest, longest, Qt.KeepAspectRatio, smooth))


def file_pixmap(path) -> QPixmap:
    """The picture in a user's image file, read through engine.fileio: a pipe or a device is no picture, at once."""
    picture = QPixmap()
    try:
        picture.loadFromData(fileio.read_bytes(path, MAX_IMAGE_BYTES, "image"))
    except fileio.FileError:
        pass
    return picture
