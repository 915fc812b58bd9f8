"""The one palette: WCAG contrast of every styled pair, health colors apart under color-vision deficiencies,
no color outside the palette, and the real widgets (banner, charts, canvas) following the chosen theme."""
import itertools
import re
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication

from layerloom import engine
from layerloom.designer import theme
from layerloom.designer.dashboard.charts import style
from layerloom.designer.document import DocumentModel

DESIGNER = Path(theme.__file__).parent
THEMES = list(theme.THEMES.values())
# Machado, Oliveira & Fernandes (2009), severity 1.0, applied to linear RGB.
DEFICIENCIES = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]],
}
APART = 15.0    # CIE76 distance in Lab: well above the ~2.3 that is just noticeable


@pytest.fixture
def themed(qapp):
    yield lambda name: theme.apply(qapp, theme.THEMES[name])
    theme.apply(qapp, theme.THEMES["dark"])


@pytest.mark.parametrize("current", THEMES, ids=lambda t: t.name)
def test_every_styled_text_meets_wcag_aa(current):
    pairs = [(current[text], current[back], large, f"{text} on {back}") for text, back, large in theme.TEXT_PAIRS]
    pairs += [(current[text], current.tint(stripe, theme.BANNER_TINT), False, f"{text} on banner {kind}")
              for kind, stripe in theme.BANNER_STRIPES.items() for text in ("text", "link")]
    for name in theme.CATEGORY_COLORS:   # card headers shade from the color lightened by 18% at the top
        top = QColor(current.category(name)).lighter(118).name()
        pairs.append((current["header_text"], top, False, f"header top of {name}"))
    failing = [f"{what}: {theme.contrast(fg, bg):.2f}" for fg, bg, large, what in pairs
               if theme.contrast(fg, bg) < (3.0 if large else 4.5)]
    assert not failing


@pytest.mark.parametrize("current", THEMES, ids=lambda t: t.name)
def test_every_chart_line_and_mark_stands_out(current, qapp):
    marks = [(current[fg], current[bg], f"{fg} on {bg}") for fg, bg in theme.MARKS]
    marks += [(color, current["chart"], f"run color {color}") for color in current.run_colors]
    low, high = current.depth_range
    depth = style.DEPTH_MAP.map(np.linspace(low, high, 25), mode="qcolor")
    marks += [(c.name(), current["chart"], f"depth color {c.name()}") for c in depth]
    for level in theme.HEALTH_LEVELS:     # a fill that is too pale on its own is carried by its outline
        for back in ("chart", "canvas"):
            fill, outline = current[level], current["health_outline"]
            if theme.contrast(fill, current[back]) < 3:
                marks += [(outline, current[back], f"outline of {level} on {back}"),
                          (outline, fill, f"outline around {level}")]
    failing = [f"{what}: {theme.contrast(fg, bg):.2f}" for fg, bg, what in marks if theme.contrast(fg, bg) < 3.0]
    assert not failing


def _lab(hex_color: str, matrix) -> np.ndarray:
    c = np.array([int(hex_color[i:i + 2], 16) for i in (1, 3, 5)]) / 255
    rgb = np.clip(np.asarray(matrix) @ np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4), 0, 1)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ rgb
    f = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(f > 0.008856, np.cbrt(f), 7.787 * f + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


@pytest.mark.parametrize("current", THEMES, ids=lambda t: t.name)
def test_health_colors_stay_apart_from_each_other_and_the_selection(current):
    roles = [*theme.HEALTH_LEVELS, "selection"]
    close = []
    for (name, matrix), (a, b) in itertools.product({"normal vision": np.eye(3), **DEFICIENCIES}.items(),
                                                    itertools.combinations(roles, 2)):
        distance = np.linalg.norm(_lab(current[a], matrix) - _lab(current[b], matrix))
        if distance < APART:
            close.append(f"{a} / {b} under {name}: {distance:.1f}")
    assert not close


def test_no_widget_hard_codes_a_color():
    color = re.compile(r"""#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b|QColor\(\s*["']|Qt\.(white|black|red|gray|blue)\b""")
    found = [f"{path.relative_to(DESIGNER)}:{number}: {line.strip()}"
             for path in DESIGNER.rglob("*.py") if path.name != "theme.py"
             for number, line in enumerate(path.read_text().splitlines(), 1) if color.search(line)]
    assert not found


def _colors_in(image) -> tuple[str, set[str]]:
    """The commonest pixel color (the background) and every color drawn."""
    image = image.convertToFormat(image.Format.Format_RGB32)
    pixels = np.frombuffer(image.constBits(), np.uint32, image.width() * image.height())
    values, counts = np.unique(pixels, return_counts=True)
    return f"#{int(values[counts.argmax()]) & 0xFFFFFF:06x}", {f"#{int(v) & 0xFFFFFF:06x}" for v in values}


def _contrast_in(image) -> float:
    """The contrast between the commonest pixel color (the background) and the pixel farthest from it."""
    back, drawn = _colors_in(image)
    return max(theme.contrast(back, color) for color in drawn)


@pytest.mark.parametrize("name", ["dark", "light"])
def test_the_banner_as_drawn_is_readable(qtbot, themed, name):
    from layerloom.designer.dashboard.banner import DiagnosisBanner
    from layerloom.designer.dashboard.run_store import RunSeries
    from layerloom.engine.train.events import DiagnosisEvent, ErrorEvent
    themed(name)
    run = RunSeries("deep")
    run.feed(DiagnosisEvent(kind="vanishing", nodes=["linear1"], message="the gradient at 'linear1' is tiny",
                            remedy="Use ReLU.", step=10))
    run.feed(ErrorEvent(message="the loss became NaN", step=12, node="linear2"))
    banner = DiagnosisBanner()
    qtbot.addWidget(banner)
    banner.resize(700, 200)
    banner.show_run(run)
    banner.show()
    assert len(banner.labels) == 2
    for label in banner.labels:
        assert _contrast_in(label.parentWidget().grab().toImage()) >= 4.5, label.text()


def test_the_banner_links_read_in_the_theme_chosen_after_they_were_drawn(qtbot, themed):
    """Layer links are drawn in the theme's link color at 4.5:1 on their row, also after a switch of theme."""
    from layerloom.designer.dashboard.banner import DiagnosisBanner
    from layerloom.designer.dashboard.run_store import RunSeries
    from layerloom.engine.train.events import DiagnosisEvent
    themed("dark")
    run = RunSeries("deep")
    run.feed(DiagnosisEvent(kind="vanishing", nodes=[f"layers.{i}.linear" for i in range(0, 20, 2)],
                            message="tiny", remedy="Use ReLU.", step=10))
    banner = DiagnosisBanner()
    qtbot.addWidget(banner)
    banner.resize(900, 120)
    banner.show_run(run)
    banner.show()
    for name in ("dark", "light", "dark"):
        themed(name)
        back, drawn = _colors_in(banner.labels[0].parentWidget().grab().toImage())
        link = theme.hex_of("link")
        assert link in drawn and theme.contrast(link, back) >= 4.5, (name, back)
        assert theme.THEMES["light" if name == "dark" else "dark"]["link"] not in drawn


def test_charts_canvas_and_menu_follow_the_theme_and_it_is_remembered(qtbot, tmp_path, themed):
    from layerloom.designer.main_window import MainWindow
    themed("dark")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    window = MainWindow(DocumentModel(engine.load("templates/mlp_spirals.json")), settings=settings,
                        recovery_dir=tmp_path / "recovery")
    qtbot.addWidget(window)
    chart = window.dashboard.charts[0]
    assert chart.view.backgroundBrush().color().name() == theme.DARK_ROLES["chart"]
    window.theme_actions["light"].trigger()
    assert theme.current().name == "light" and theme.saved_choice(settings).name == "light"
    assert QApplication.instance().palette().window().color().name() == theme.LIGHT_ROLES["window"]
    assert window.scene.backgroundBrush().color().name() == theme.LIGHT_ROLES["canvas"]
    chart = window.dashboard.charts[0]
    assert chart.view.backgroundBrush().color().name() == theme.LIGHT_ROLES["chart"]
    axis = chart.plots[0].getAxis("left")
    assert axis.textPen().color().name() == theme.LIGHT_ROLES["chart_text"]
    window.document.undo_stack.setClean()
    window.close()
