"""The designer's one palette: named color roles for a dark (default) and a light theme.

Every widget, the canvas, the charts and the diagnosis banner take their colors from here: widgets by a
`role` property the application style sheet colors, painters by `color(role)`. Health colors are the
Okabe-Ito palette (Okabe & Ito 2008, "Color Universal Design"), chosen for the common color-vision
deficiencies; every health mark has an outline that keeps 3:1 against a light background.
`tests/designer/test_theme.py` computes the WCAG contrast of every pair listed in TEXT_PAIRS and MARKS.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QColor, QPalette

SETTING = "view/theme"
HEALTH_LEVELS = ("healthy", "vanishing", "exploding", "dead", "saturated", "attention", "nonfinite")

# Header colors of the layer categories (canvas cards, palette swatches): white text on each meets 4.5:1.
CATEGORY_COLORS: dict[str, str] = {
    "Inputs and outputs": "#3b6590", "Dense": "#6a4fb8", "Convolution": "#1b6c61", "Pooling": "#346c3e",
    "Recurrent": "#905010", "Attention": "#873e8d", "Normalization": "#6f6310", "Activations": "#a33d60",
    "Merge and residual": "#765a3e", "Reshaping": "#566473", "Blocks": "#4a4e8f",
}

# Gradient health: Okabe-Ito as published, in both themes. Every health mark is drawn with a `health_outline`,
# which carries the 3:1 against a light background where the lighter members of the palette cannot.
HEALTH_COLORS = {"healthy": "#009e73", "vanishing": "#56b4e9", "exploding": "#d55e00", "dead": "#cc79a7",
                 "saturated": "#f0e442", "attention": "#0072b2", "nonfinite": "#e69f00"}
# Canvas frames: the document names a frame's color, these are what it looks like (a translucent fill on the canvas).
FRAME_COLORS = {"gray": "#8a9099", "blue": "#4c8fdf", "green": "#4caf6a", "yellow": "#d6b43c",
                "orange": "#e08a3c", "red": "#d9534f", "purple": "#9b6bd3"}
_SHARED = {"header_text": "#ffffff", "ink": "#000000", "badge": "#c62828", **HEALTH_COLORS,
           **{f"category:{name}": color for name, color in CATEGORY_COLORS.items()},
           **{f"frame:{name}": color for name, color in FRAME_COLORS.items()}}

DARK_ROLES = {
    **_SHARED,
    # panels
    "window": "#23262b", "base": "#1e2024", "alternate_base": "#25282d", "button": "#2c3036", "bar": "#23262b",
    "text": "#e0e2e5", "text_muted": "#a4a9b0", "text_disabled": "#6b7078", "border": "#3b3f47", "separator": "#15171a",
    "hover": "#33373e", "highlight": "#2f62a8", "highlighted_text": "#ffffff", "link": "#79b4ff", "accent": "#4c9aff",
    "tooltip": "#2a2d33", "tooltip_text": "#e8eaed", "error_text": "#ff8d85", "ok_text": "#5fd07e",
    # canvas
    "canvas": "#1b1d21", "grid_minor": "#24272c", "grid_major": "#2c3036", "card": "#2a2d33", "card_border": "#464b54",
    "card_text": "#e8eaed", "card_text_muted": "#a4a9b0", "edge": "#7d8590", "edge_label": "#30343b",
    "selection": "#ffffff", "problem": "#ff6b6b", "port_ok": "#5fd07e",
    # charts
    "chart": "#1e2024", "chart_text": "#c9ccd1", "chart_axis": "#8a9099", "chart_reference": "#8a9099",
    "train": "#56b4e9", "val": "#e69f00", "batch": "#4a86a8", "clipped": "#009e73",
    "health_outline": "#101114",
}

LIGHT_ROLES = {
    **_SHARED,
    "window": "#f3f4f6", "base": "#ffffff", "alternate_base": "#f6f7f9", "button": "#e8eaee", "bar": "#e9ebef",
    "text": "#1f2328", "text_muted": "#57606a", "text_disabled": "#8c959f", "border": "#c9ced6", "separator": "#c2c7cf",
    "hover": "#dde1e7", "highlight": "#0a62c9", "highlighted_text": "#ffffff", "link": "#0950a8", "accent": "#0a62c9",
    "tooltip": "#ffffff", "tooltip_text": "#1f2328", "error_text": "#b42318", "ok_text": "#17692f",
    "canvas": "#f4f5f7", "grid_minor": "#e9ebee", "grid_major": "#dcdfe4", "card": "#ffffff", "card_border": "#b9bfc8",
    "card_text": "#1f2328", "card_text_muted": "#57606a", "edge": "#6e7781", "edge_label": "#eef0f3",
    "selection": "#1f2328", "problem": "#c8261b", "port_ok": "#17692f",
    "chart": "#ffffff", "chart_text": "#2d3339", "chart_axis": "#6e7781", "chart_reference": "#6e7781",
    "train": "#0072b2", "val": "#d55e00", "batch": "#6f8fae", "clipped": "#007a59",
    "health_outline": "#1f2328",
}

# (text role, background role, large): every text the designer draws on a background it draws.
TEXT_PAIRS: tuple[tuple[str, str, bool], ...] = (
    *((text, back, False) for back in ("window", "base", "alternate_base", "button", "bar", "tooltip")
      for text in ("text", "text_muted", "error_text", "ok_text")),
    ("link", "window", False), ("link", "base", False), ("highlighted_text", "highlight", False),
    ("tooltip_text", "tooltip", False), ("accent", "window", True),
    ("card_text", "card", False), ("card_text_muted", "card", False), ("card_text", "edge_label", False),
    ("accent", "card", False),   # the MACs of the nodes that do most of a model's work
    ("card_text_muted", "canvas", False),
    *(("header_text", f"category:{name}", False) for name in CATEGORY_COLORS), ("header_text", "badge", False),
    ("chart_text", "chart", False),
)
# Marks (chart lines, outlines, dots) and the background they sit on: 3:1 each.
MARKS: tuple[tuple[str, str], ...] = (
    *((role, "chart") for role in ("chart_axis", "chart_reference", "train", "val", "batch", "clipped")),
    *((role, "canvas") for role in ("selection", "problem", "edge")),
    ("selection", "card"), ("problem", "card"),
)
# Several runs overlaid: each run's color (Okabe-Ito order), distinct from the health colors' meaning by legend.
RUN_COLORS = {"dark": ("#56b4e9", "#e69f00", "#009e73", "#cc79a7", "#f0e442", "#d55e00"),
              "light": ("#0072b2", "#d55e00", "#007a59", "#b3588f", "#8a6a00", "#000000")}
# The stretch of pyqtgraph's plasma map used for per-layer lines (input side to output side): 3:1 on the chart.
DEPTH_RANGE = {"dark": (0.45, 0.95), "light": (0.0, 0.62)}


@dataclass(frozen=True)
class Theme:
    """A named set of color roles."""

    name: str
    roles: Mapping[str, str]
    _colors: dict = field(default_factory=dict, compare=False, repr=False)

    def __getitem__(self, role: str) -> str:
        return self.roles[role]

    def color(self, role: str) -> QColor:
        """The role's color (cached: painters ask for it on every paint)."""
        if role not in self._colors:
            self._colors[role] = QColor(self.roles[role])
        return QColor(self._colors[role])

    @property
    def run_colors(self) -> tuple[str, ...]:
        return RUN_COLORS[self.name]

    @property
    def depth_range(self) -> tuple[float, float]:
        return DEPTH_RANGE[self.name]

    def category(self, name: str) -> str:
        return self.roles.get(f"category:{name}", self.roles["category:Reshaping"])

    def tint(self, role: str, share: float, over: str = "window") -> str:
        """`role` mixed into `over` (an opaque stand-in for a translucent tint)."""
        return mix(self.roles[role], self.roles[over], share)


THEMES = {"dark": Theme("dark", DARK_ROLES), "light": Theme("light", LIGHT_ROLES)}
# Diagnosis banner rows: the role colouring each kind's stripe and tint; the text is the theme's text.
BANNER_STRIPES = {**{level: level for level in HEALTH_LEVELS}, "failed": "problem", "cleared": "text_muted",
                  "trial": "accent"}
BANNER_TINT = 0.16   # how much of a stripe's color tints its row


def mix(color: str, back: str, share: float) -> str:
    """`color` over `back` at opacity `share`, as '#rrggbb'."""
    a, b = QColor(color), QColor(back)
    parts = (round(x * share + y * (1 - share)) for x, y in
             ((a.red(), b.red()), (a.green(), b.green()), (a.blue(), b.blue())))
    return "#{:02x}{:02x}{:02x}".format(*parts)


def readable_on(back: str) -> str:
    """White or black text, whichever reads better on `back` (one of them always has 4.5:1)."""
    light, dark = _current["header_text"], _current["ink"]
    return light if contrast(light, back) >= contrast(dark, back) else dark


def luminance(color: str) -> float:
    """WCAG 2 relative luminance."""
    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    q = QColor(color)
    return 0.2126 * linear(q.red()) + 0.7152 * linear(q.green()) + 0.0722 * linear(q.blue())


def contrast(first: str, second: str) -> float:
    """WCAG 2 contrast ratio, 1 to 21."""
    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


class _Notifier(QObject):
    changed = Signal(object)   # the new Theme


notifier = _Notifier()
_current = THEMES["dark"]


def current() -> Theme:
    return _current


def color(role: str) -> QColor:
    """The current theme's color for `role`."""
    return _current.color(role)


def hex_of(role: str) -> str:
    return _current[role]


def saved_choice(settings: QSettings) -> Theme:
    """The theme the person chose last time (dark when none or unknown)."""
    return THEMES.get(str(settings.value(SETTING, "dark")), THEMES["dark"])


def apply(app, theme: Theme, settings: QSettings | None = None) -> None:
    """Make `theme` current: the application palette and style sheet, then `notifier.changed` for painters."""
    global _current
    _current = theme
    app.setStyle("Fusion")
    app.setPalette(qpalette(theme))
    app.setStyleSheet(style_sheet(theme))
    if settings is not None:
        settings.setValue(SETTING, theme.name)
    notifier.changed.emit(theme)


def qpalette(theme: Theme) -> QPalette:
    palette = QPalette()
    roles = {
        QPalette.Window: "window", QPalette.WindowText: "text", QPalette.Base: "base",
        QPalette.AlternateBase: "alternate_base", QPalette.ToolTipBase: "tooltip", QPalette.ToolTipText: "tooltip_text",
        QPalette.Text: "text", QPalette.Button: "button", QPalette.ButtonText: "text", QPalette.BrightText: "header_text",
        QPalette.Highlight: "highlight", QPalette.HighlightedText: "highlighted_text", QPalette.Link: "link",
        QPalette.PlaceholderText: "text_muted", QPalette.Mid: "border", QPalette.Dark: "separator",
        QPalette.Light: "border", QPalette.Midlight: "hover",
    }
    for qt_role, role in roles.items():
        palette.setColor(qt_role, theme.color(role))
    for qt_role in (QPalette.WindowText, QPalette.Text, QPalette.ButtonText):
        palette.setColor(QPalette.Disabled, qt_role, theme.color("text_disabled"))
    return palette


def set_role(widget, role: str):
    """Color a widget by a style-sheet role (muted, section, error, ok, diagnosis kinds...); returns it."""
    if widget.property("role") == role:   # re-polishing costs a style pass (~5 ms) on every check otherwise
        return widget
    widget.setProperty("role", role)
    widget.style().unpolish(widget)
    widget.style().polish(widget)
    return widget


def style_sheet(theme: Theme) -> str:
    """The application style sheet: chrome, then the roles widgets ask for with `set_role`."""
    r = theme.roles
    banner = "".join(
        f'*[role="banner:{kind}"] {{ background: {theme.tint(stripe, BANNER_TINT)}; color: {r["text"]};'
        f' border-left: 5px solid {r[stripe]}; padding: 5px 8px; }}\n' for kind, stripe in BANNER_STRIPES.items())
    return f"""
QMainWindow::separator {{ background: {r['separator']}; width: 3px; height: 3px; }}
QDockWidget {{ color: {r['text']}; font-weight: bold; }}
QDockWidget::title {{ background: {r['bar']}; padding: 6px 8px; border-bottom: 1px solid {r['separator']}; }}
QToolBar {{ background: {r['bar']}; border: none; border-bottom: 1px solid {r['separator']}; spacing: 2px; padding: 3px 6px; }}
QToolBar QToolButton {{ padding: 4px 10px; border-radius: 4px; color: {r['text']}; }}
QToolBar QToolButton:hover {{ background: {r['hover']}; }}
QToolBar QToolButton:disabled {{ color: {r['text_disabled']}; }}
QToolBar::separator {{ background: {r['border']}; width: 1px; margin: 4px 6px; }}
QStatusBar {{ background: {r['bar']}; color: {r['text']}; border-top: 1px solid {r['separator']}; }}
QStatusBar::item {{ border: none; }}
QMenuBar {{ background: {r['bar']}; color: {r['text']}; }}
QMenuBar::item:selected {{ background: {r['hover']}; }}
QMenu {{ background: {r['tooltip']}; color: {r['text']}; border: 1px solid {r['border']}; padding: 4px 0; }}
QMenu::item {{ padding: 5px 28px 5px 22px; }}
QMenu::item:selected {{ background: {r['highlight']}; color: {r['highlighted_text']}; }}
QMenu::item:disabled {{ color: {r['text_disabled']}; }}
QMenu::separator {{ height: 1px; background: {r['border']}; margin: 4px 8px; }}
QTabBar::tab {{ background: {r['bar']}; color: {r['text_muted']}; padding: 5px 14px; border: none; }}
QTabBar::tab:selected {{ color: {r['text']}; border-bottom: 2px solid {r['accent']}; }}
QToolTip {{ background: {r['tooltip']}; color: {r['tooltip_text']}; border: 1px solid {r['border']}; padding: 4px; }}
*[role="muted"] {{ color: {r['text_muted']}; }}
*[role="section"] {{ color: {r['text_muted']}; font-weight: 600; }}
*[role="error"] {{ color: {r['error_text']}; }}
*[role="ok"] {{ color: {r['ok_text']}; }}
*[invalid="true"] {{ border: 1px solid {r['error_text']}; border-radius: 3px; padding: 2px; }}
{banner}"""
