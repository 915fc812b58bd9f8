"""How the canvas looks: colors (from the theme), sizes and fonts, and the rows of params a node card shows."""
from __future__ import annotations

from functools import lru_cache

from PySide6.QtGui import QColor, QFont

from layerloom.engine import NodeBase, TensorMeta, format_meta
from layerloom.engine.document import is_instance
from .. import theme

GRID = 20                   # snap step and minor grid spacing, in scene units
NODE_WIDTH = 160
HEADER_HEIGHT = 24
ID_ROW = 22
PORT_ROW = 18
PARAM_ROW = 15
MAP_BAND = 62               # an attention layer's card: the thumbnail of its latest attention map
PORT_RADIUS = 5.0
CORNER = 7.0
LAYOUT_DX = 240.0           # auto-layout column and row steps, sized to the cards and edge labels
LAYOUT_DY = 150.0
MAX_PARAM_ROWS = 4
DETAIL_ZOOM = 0.5           # below this zoom cards are drawn simplified and edges lose their labels

# Colors follow the theme (designer.theme): `style.CARD` reads the current theme's role on every use.
COLOR_ROLES = {
    "BACKGROUND": "canvas", "GRID_MINOR": "grid_minor", "GRID_MAJOR": "grid_major", "CARD": "card",
    "CARD_BORDER": "card_border", "TEXT": "card_text", "TEXT_DIM": "card_text_muted", "ACCENT": "selection",
    "ERROR": "problem", "OK": "port_ok", "EDGE": "edge", "LABEL_BG": "edge_label", "HEADER_TEXT": "header_text",
    "HEALTH_OUTLINE": "health_outline", "BADGE": "badge", "HEAVY": "accent",
}


def __getattr__(name: str) -> QColor:
    if name in COLOR_ROLES:
        return theme.color(COLOR_ROLES[name])
    raise AttributeError(name)


def category_color(category: str) -> QColor:
    return QColor(theme.current().category(category))


@lru_cache(maxsize=None)
def font(point_size: float, bold: bool = False) -> QFont:
    f = QFont("DejaVu Sans")
    f.setPointSizeF(point_size)
    f.setBold(bold)
    return f


def format_value(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return "×".join(str(v) for v in value) if value else "()"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def key_params(node: NodeBase, spec=None) -> list[tuple[str, str]]:
    """(name, value) rows a node card shows: the params its layer type declares for the card, then any other
    changed ones; for a block instance its block params (defaults filled in) and its copies."""
    spec = spec or node.spec
    if is_instance(node):
        defaults = {k: f.default for k, f in spec.params.model_fields.items() if k != "repeat"}
        values = defaults | dict(node.params)
        rows = [(n.replace("_", " "), format_value(values[n]) if values[n] is not None else "?") for n in spec.card]
        rows += [("copies", f"×{node.repeat}")] if node.repeat > 1 else []
    else:
        values = node.params.model_dump()
        changed = node.params.model_dump(exclude_defaults=True)
        names = [n for n in spec.card if n in values]
        names += [n for n in changed if n not in names]
        rows = [(n.replace("_", " "), format_value(values[n])) for n in names]
    if len(rows) > MAX_PARAM_ROWS:
        rows = rows[:MAX_PARAM_ROWS - 1] + [("", f"+{len(rows) - MAX_PARAM_ROWS + 1} more")]
    return rows


def format_shape(meta) -> str:
    """Edge label: '(16, 8, 8)', 'h,c (1, 64)' for an LSTM state pair, '' when unknown."""
    if meta is None or isinstance(meta, TensorMeta):
        return format_meta(meta) if meta is not None else ""
    first = format_meta(meta[0])
    return f"h,c {first}" if all(format_meta(m) == first for m in meta) else format_meta(meta)


class HoverHighlight:
    """Mixin for graphics items drawn brighter under the mouse: tracks `_hover` and repaints."""

    _hover = False

    def hoverEnterEvent(self, event) -> None:
        self._hover = True
        self.update()

    def hoverLeaveEvent(self, event) -> None:
        self._hover = False
        self.update()
