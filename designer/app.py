"""Starting the designer: the application, its dark theme, the window, a file from the command line, screenshots."""
from __future__ import annotations

import os
import sys
from pathlib import Path

SCREENSHOT_SIZE = (1800, 1000)
CHECK_TIMEOUT_MS = 120_000   # the first check in a process pays for torch's fake-tensor warm-up

STYLE_SHEET = """
QMainWindow::separator { background: #15171a; width: 3px; height: 3px; }
QDockWidget { color: #c9ccd1; font-weight: bold; }
QDockWidget::title { background: #23262b; padding: 6px 8px; border-bottom: 1px solid #15171a; }
QToolBar { background: #23262b; border: none; border-bottom: 1px solid #15171a; spacing: 2px; padding: 3px 6px; }
QToolBar QToolButton { padding: 4px 10px; border-radius: 4px; color: #d7dade; }
QToolBar QToolButton:hover { background: #33373e; }
QToolBar QToolButton:disabled { color: #62676e; }
QToolBar::separator { background: #3a3e45; width: 1px; margin: 4px 6px; }
QStatusBar { background: #23262b; color: #c9ccd1; border-top: 1px solid #15171a; }
QStatusBar::item { border: none; }
QMenuBar { background: #23262b; color: #d7dade; }
QMenuBar::item:selected { background: #33373e; }
QMenu { background: #2a2d33; color: #e0e2e5; border: 1px solid #3b3f47; padding: 4px 0; }
QMenu::item { padding: 5px 28px 5px 22px; }
QMenu::item:selected { background: #3d6fb5; }
QMenu::item:disabled { color: #6b7078; }
QMenu::separator { height: 1px; background: #3b3f47; margin: 4px 8px; }
QTabBar::tab { background: #23262b; color: #9aa0a6; padding: 5px 14px; border: none; }
QTabBar::tab:selected { color: #e8eaed; border-bottom: 2px solid #4c9aff; }
QToolTip { background: #2a2d33; color: #e8eaed; border: 1px solid #4a4f57; padding: 4px; }
"""


def apply_theme(app) -> None:
    """A dark Fusion theme shared by the canvas and every panel."""
    from PySide6.QtGui import QColor, QPalette
    app.setStyle("Fusion")
    palette = QPalette()
    colors = {
        QPalette.Window: "#23262b", QPalette.WindowText: "#e0e2e5", QPalette.Base: "#1e2024",
        QPalette.AlternateBase: "#25282d", QPalette.ToolTipBase: "#2a2d33", QPalette.ToolTipText: "#e8eaed",
        QPalette.Text: "#e0e2e5", QPalette.Button: "#2c3036", QPalette.ButtonText: "#e0e2e5",
        QPalette.BrightText: "#ffffff", QPalette.Highlight: "#3d6fb5", QPalette.HighlightedText: "#ffffff",
        QPalette.Link: "#6aa9ff", QPalette.PlaceholderText: "#7b8088", QPalette.Mid: "#3b3f47",
        QPalette.Dark: "#15171a", QPalette.Light: "#3b3f47", QPalette.Midlight: "#33373e",
    }
    for role, color in colors.items():
        palette.setColor(role, QColor(color))
    for role in (QPalette.WindowText, QPalette.Text, QPalette.ButtonText):
        palette.setColor(QPalette.Disabled, role, QColor("#6b7078"))
    app.setPalette(palette)
    app.setStyleSheet(STYLE_SHEET)


def application():
    """The running QApplication, or a new one named so that settings and recovery files have a home."""
    import gc

    from layerloom import engine  # noqa: F401  (torch: by far the largest part of the heap)
    from PySide6.QtWidgets import QApplication
    gc.freeze()   # startup objects live as long as the app: keep the collector from rescanning them
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        # Qt would free our clipboard data after Python has, and crash on exit.
        app.aboutToQuit.connect(lambda: QApplication.clipboard().clear())
    app.setOrganizationName("LayerLoom")
    app.setApplicationName("LayerLoom")
    apply_theme(app)
    return app


def run(file: str | None = None, screenshot: str | None = None) -> int:
    """Open the designer (on `file` if given); with `screenshot`, render the window to that PNG and exit."""
    if screenshot:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    app = application()
    from .main_window import MainWindow
    if screenshot:
        return _screenshot(app, MainWindow, file, Path(screenshot))
    window = MainWindow()
    window.restore_layout()
    window.show()
    if file:
        window.files.open_path(file)
    else:
        window.files.offer_recovery()
    window.view.fit_to_contents()
    return app.exec()


def _screenshot(app, window_class, file: str | None, out: Path) -> int:
    """Render a new window (on `file`) to `out`; a file with problems prints them and opens no window."""
    from layerloom.engine import DocumentError, load
    if file:
        try:
            load(file)
        except DocumentError as error:
            print("\n".join(f"{file}: {p}" for p in error.problems), file=sys.stderr)
            return 1
    window = window_class()
    if file:
        window.files.open_path(file)
    window.resize(*SCREENSHOT_SIZE)
    window.show()
    app.processEvents()
    window.document.wait_for_check(CHECK_TIMEOUT_MS)
    app.processEvents()
    window.view.fit_to_contents()
    app.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    ok = window.grab().save(str(out))
    window.document.undo_stack.setClean()   # nothing was edited: close without asking
    window.close()
    return 0 if ok else 1
