"""Starting the designer: the application and its theme, the window, a file from the command line, screenshots."""
from __future__ import annotations

import os
import sys
from pathlib import Path

SCREENSHOT_SIZE = (1800, 1000)
CHECK_TIMEOUT_MS = 120_000   # the first check in a process pays for importing torch._dynamo (its meta kernels)


def application():
    """The running QApplication, or a new one named so that settings and recovery files have a home."""
    import gc

    from layerloom import engine  # noqa: F401  (torch: by far the largest part of the heap)
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from . import theme
    gc.freeze()   # startup objects live as long as the app: keep the collector from rescanning them
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        # Qt would free our clipboard data after Python has, and crash on exit.
        app.aboutToQuit.connect(lambda: QApplication.clipboard().clear())
    app.setOrganizationName("LayerLoom")
    app.setApplicationName("LayerLoom")
    theme.apply(app, theme.saved_choice(QSettings()))
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
    collector = collect_in_gui_thread()
    code = app.exec()
    collector.timer.stop()
    return code


def collect_in_gui_thread():
    """Collect garbage in the GUI thread only, on a timer (pyqtgraph's collector, made for this): a collection that
    a worker thread (checks, costs, exports, predictions) set off could destroy Qt objects outside it."""
    from pyqtgraph.util.garbage_collector import GarbageCollector
    return GarbageCollector(interval=1.0)


def _screenshot(app, window_class, file: str | None, out: Path) -> int:
    """Render a new window (on `file`) to `out`; a file with problems prints them and opens no window, and an `out`
    that is not a regular file (a pipe, a folder) is refused first (FileError)."""
    from PySide6.QtCore import QBuffer, QByteArray, QEventLoop, QIODevice, QTimer

    from layerloom.engine import DocumentError, fileio, load
    out = fileio.check_writable(fileio.make_folder(out.parent) / out.name)
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
    loop, saved = QEventLoop(), []

    def shoot() -> None:  # runs in the event loop, once the window is shown and laid out
        window.document.wait_for_check(CHECK_TIMEOUT_MS)
        window.view.fit_to_contents()
        QTimer.singleShot(0, save)  # after the view has settled at its new zoom

    def save() -> None:
        image = QByteArray()
        buffer = QBuffer(image)
        buffer.open(QIODevice.WriteOnly)
        if window.grab().save(buffer, (out.suffix.lstrip(".") or "png").upper()):
            saved.append(bytes(image.data()))
        loop.quit()
    QTimer.singleShot(0, shoot)
    loop.exec()
    window.document.undo_stack.setClean()   # nothing was edited: close without asking
    window.close()
    if saved:  # written here, outside Qt's event loop, so that a FileError reaches the command line
        fileio.write_bytes(out, saved[0])
    return 0 if saved else 1
