"""The designer's main window: the canvas in the middle, panels docked around it, menus, toolbar and status bar."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRect, QSettings, QSize, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QApplication, QDockWidget, QLabel, QMainWindow, QMenu, QScrollArea, QTabWidget, QToolBar, QWidget,
)

from layerloom.engine.costs import format_bytes, format_macs, machine_memory

from . import theme
from .actions import CanvasActions
from .canvas import GraphScene, GraphView
from .dashboard import DashboardDock
from .document import DocumentModel
from .export_dialog import ExportController
from .files import FileController
from .import_offer import ImportOffer
from .inspector import InspectorWidget
from .palette import PaletteWidget
from .problems_panel import ProblemsPanel
from .recovery import AUTOSAVE_MS, Recovery
from .shortcut_sheet import ShortcutSheet
from .summary_panel import SummaryPanel

MESSAGE_MS = 8000
BOTTOM_SHARE = 0.2  # of the window height, for the bottom panels at first
TRAINING_SHARE = 0.42  # of the window height, for the Training panel once a run starts
FIRST_SIZE = (1500, 920)  # the window's size the first time, where the screen's free area has room for it
FRAME = (16, 48)  # room kept for the window manager's frame and title bar


def first_size(room: QRect) -> QSize:
    """The window's size the first time: FIRST_SIZE, or the screen's free area `room` less the frame if smaller."""
    return QSize(min(FIRST_SIZE[0], room.width() - FRAME[0]), min(FIRST_SIZE[1], room.height() - FRAME[1]))


class MainWindow(QMainWindow):
    """One document in one window; panels observe the same DocumentModel as the canvas."""

    def __init__(self, document: DocumentModel | None = None, settings: QSettings | None = None,
                 recovery_dir: Path | None = None, autosave_ms: int = AUTOSAVE_MS):
        super().__init__()
        self.document = document or DocumentModel(parent=self)
        self.scene = GraphScene(self.document, self)
        self.view = GraphView(self.scene)
        self.setCentralWidget(self.view)
        self.canvas_actions = CanvasActions(self.document, self.view)
        self.recovery = Recovery(self.document, recovery_dir, autosave_ms, self)
        self.settings = settings or QSettings()
        self.files = FileController(self, self.document, self.settings, self.recovery)
        self.palette = PaletteWidget(self.document)
        self.inspector = InspectorWidget(self.document)
        self.problems = ProblemsPanel(self.document)
        self.summary = SummaryPanel(self.document)
        self.dashboard = DashboardDock(self.document, parent=self)
        self.exporter = ExportController(self, self.document, lambda: self.dashboard.runs_dir)
        self.resize(first_size(self.screen().availableGeometry()))
        self.setDockOptions(QMainWindow.AnimatedDocks | QMainWindow.AllowTabbedDocks)
        self.setTabPosition(Qt.BottomDockWidgetArea, QTabWidget.North)
        self.add_dock(self.palette, Qt.LeftDockWidgetArea, "Layers")
        self.add_dock(self.inspector, Qt.RightDockWidgetArea, "Inspector")
        problems_dock = self.add_dock(self.problems, Qt.BottomDockWidgetArea, "Problems")
        summary_dock = self.add_dock(self.summary, Qt.BottomDockWidgetArea, "Summary")
        self.training_dock = self.add_dock(_scrollable(self.dashboard), Qt.BottomDockWidgetArea, "Training")
        self.tabifyDockWidget(problems_dock, summary_dock)
        self.tabifyDockWidget(summary_dock, self.training_dock)
        for dock in (problems_dock, summary_dock, self.training_dock):
            dock.setTitleBarWidget(QWidget())   # the tab already names it
        problems_dock.raise_()
        self._sized = False
        self.training_actions = self._training_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        self.problems.node_activated.connect(self.show_node)
        self.summary.node_activated.connect(self.show_node)
        self.palette.node_added.connect(self.show_node)
        self.dashboard.health_changed.connect(self.scene.set_node_health)
        self.dashboard.attention_changed.connect(self.scene.set_attention_maps)
        self.dashboard.node_requested.connect(self.center_node)
        self.dashboard.run_started.connect(lambda _: self.show_training())
        self.scene.message.connect(lambda text: self.statusBar().showMessage(text, MESSAGE_MS))
        self.view.files_dropped.connect(self.open_dropped)
        self.setAcceptDrops(True)
        self.document.checked.connect(self._on_checked)
        self.document.path_changed.connect(self._on_title_changed)
        self.document.changed.connect(self._on_title_changed)
        self.document.undo_stack.cleanChanged.connect(self._on_title_changed)
        theme.notifier.changed.connect(self._on_theme_changed)
        self._on_title_changed()
        self._on_checked()

    def add_dock(self, widget: QWidget, area: Qt.DockWidgetArea, title: str) -> QDockWidget:
        """Dock a panel (the View menu's Panels submenu lists it); returns the dock."""
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetClosable
                         | QDockWidget.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        if hasattr(self, "_panels_menu"):
            self._panels_menu.addAction(dock.toggleViewAction())
        return dock

    def show_training(self) -> None:
        """Bring the Training panel forward, tall enough for its charts (the panels start low, for the canvas)."""
        self.training_dock.raise_()
        bottom = self.statusBar().geometry().top() - self.centralWidget().geometry().bottom()
        tall = int(self.height() * TRAINING_SHARE)
        if bottom < tall:
            self.resizeDocks([self.training_dock], [tall], Qt.Vertical)

    def show_node(self, node_id: str) -> None:
        """Scroll the canvas to a node (after a click in a panel or a palette add)."""
        item = self.scene.nodes.get(node_id)
        if item is not None:
            self.view.ensureVisible(item, 80, 80)

    def center_node(self, node_id: str) -> None:
        """Select a node and bring it to the middle of the canvas (a layer named by the diagnosis banner); a layer
        inside a block instance, or a copy of one, by the instance that holds it."""
        found = self.document.view_realization()
        prefix = found[0] if found else ""
        if not node_id.startswith(prefix):
            return
        local = node_id.removeprefix(prefix)
        shown = local if local in self.scene.nodes else local.split(".")[0]
        item = self.scene.nodes.get(shown)
        if item is not None:
            self.document.select([shown])
            self.view.centerOn(item)

    def _build_menus(self) -> None:
        files, actions = self.files, self.canvas_actions
        menu = self.menuBar().addMenu("&File")
        menu.addActions([files.new, files.new_from_template, files.open])
        menu.addMenu(files.recent_menu)
        menu.addSeparator()
        menu.addActions([files.save, files.save_as])
        menu.addAction(self.exporter.action)
        menu.addSeparator()
        menu.addAction("&Quit", "Ctrl+Q", self.close)
        menu = self.menuBar().addMenu("&Edit")
        menu.addActions([actions.undo, actions.redo])
        menu.addSeparator()
        menu.addActions([actions.cut, actions.copy, actions.paste, actions.duplicate, actions.delete])
        menu.addSeparator()
        menu.addAction(actions.select_all)
        menu = self.menuBar().addMenu("&View")
        menu.addActions([actions.zoom_in, actions.zoom_out, actions.actual_size, actions.fit])
        menu.addSeparator()
        menu.addActions([actions.snap, actions.minimap])
        menu.addSeparator()
        self._build_theme_menu(menu.addMenu("&Theme"))
        self._panels_menu = menu.addMenu("&Panels")
        self._panels_menu.addActions([d.toggleViewAction() for d in self.findChildren(QDockWidget)])
        menu = self.menuBar().addMenu("&Graph")
        menu.addActions([actions.search, actions.insert, actions.frames.create, actions.auto_layout])
        menu.addSeparator()
        menu.addActions([actions.group, actions.ungroup])
        self.menuBar().addMenu("&Training").addActions(self.training_actions)
        self.menuBar().addMenu("&Help").addAction("&Keyboard Shortcuts", "F1", self.show_shortcuts)

    def _build_theme_menu(self, menu: QMenu) -> None:
        """Dark or light, remembered in the settings."""
        group = QActionGroup(self)
        self.theme_actions = {}
        for name in theme.THEMES:
            action = group.addAction(name.capitalize())
            action.setCheckable(True)
            action.setChecked(name == theme.current().name)
            action.triggered.connect(lambda _=False, name=name: self.set_theme(name))
            menu.addAction(action)
            self.theme_actions[name] = action

    def set_theme(self, name: str) -> None:
        theme.apply(QApplication.instance(), theme.THEMES[name], self.settings)

    def _on_theme_changed(self, current: theme.Theme) -> None:
        self.theme_actions[current.name].setChecked(True)
        self.scene.restyle()
        self.view.resetCachedContent()
        self._on_checked()

    def show_shortcuts(self) -> None:
        ShortcutSheet(self).exec()

    # dropped files ---------------------------------------------------------------------------------------
    def open_dropped(self, paths: list[Path]) -> None:
        """Open a dropped .json document (asking about unsaved changes first); offer to import a dropped .py."""
        path = paths[0]
        if path.suffix.lower() == ".json":
            self.files.open_path(path)
        elif path.suffix.lower() == ".py":
            self.import_offer = ImportOffer(path, self)
            self.import_offer.imported.connect(self.files.open_path)
            self.import_offer.open()
        else:
            self.statusBar().showMessage(f"{path.name}: drop a .json document to open it, or a .py file to import "
                                         "a PyTorch model from it", MESSAGE_MS)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_dropped(paths)

    def _build_toolbar(self) -> None:
        bar = QToolBar("Main", self)
        bar.setObjectName("Main toolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonTextOnly)
        bar.addActions([self.files.new, self.files.new_from_template, self.files.open, self.files.save])
        bar.addSeparator()
        bar.addActions([self.canvas_actions.undo, self.canvas_actions.redo])
        bar.addSeparator()
        bar.addActions([self.canvas_actions.auto_layout, self.canvas_actions.fit])
        bar.addSeparator()
        bar.addActions(self.training_actions)
        self.addToolBar(Qt.TopToolBarArea, bar)

    def _training_actions(self) -> list[QAction]:
        """Train (F5), Probe (F6) and Stop (Shift+F5): they drive the Training panel."""
        actions = []
        for text, key, slot in (("Train", "F5", self.dashboard.start_training),
                                ("Probe", "F6", self.dashboard.probe),
                                ("Stop", "Shift+F5", self.dashboard.stop)):
            action = QAction(text, self, shortcut=QKeySequence(key), statusTip=f"{text} ({key})")
            action.triggered.connect(lambda _=False, run=slot: (self.show_training(), run()))
            actions.append(action)
        return actions

    def _build_status_bar(self) -> None:
        self.check_label = QLabel()
        self.budget_label = QLabel()
        self.zoom_label = QLabel()
        self.zoom_label.setMinimumWidth(48)
        self.statusBar().addPermanentWidget(self.budget_label)
        self.statusBar().addPermanentWidget(self.check_label)
        self.statusBar().addPermanentWidget(self.zoom_label)
        self.document.costed.connect(self._on_costed)
        self.view.zoom_changed.connect(lambda zoom: self.zoom_label.setText(f"{zoom:.0%}"))
        self.zoom_label.setText(f"{self.view.zoom():.0%}")

    def status_text(self) -> str:
        """'Valid · 6,090 parameters', or '3 problems'."""
        count = len(self.document.problems)
        if count:
            return f"{count} problem{'s' if count > 1 else ''}"
        return f"Valid · {self.document.shapes.total_params:,} parameters"

    def _on_checked(self) -> None:
        color = theme.hex_of("error_text" if self.document.problems else "ok_text")
        self.check_label.setText(f"<span style='color:{color}'>●</span>&nbsp;{self.status_text()}&nbsp;&nbsp;")

    def budget_text(self) -> str:
        """'Batch 64: 1.65 MiB to train · 316 K MACs per sample', and a warning past this machine's memory."""
        memory = self.document.memory
        if memory is None:
            return ""
        text = (f"Batch {memory.batch_size:,}: {format_bytes(memory.training_bytes)} to train · "
                f"{format_macs(self.document.costs.total_macs)} MACs per sample")
        ram = machine_memory()
        if ram and memory.training_bytes > ram:
            return f"⚠ {text}, more than this machine's {format_bytes(ram)}"
        return text

    def _on_costed(self) -> None:
        memory, text = self.document.memory, self.budget_text()
        self.budget_label.setText(text + "  ")
        self.budget_label.setVisible(bool(text))
        tip = (f"{memory.describe()}.\nWhat autograd keeps for backward, weights, gradients and optimizer state, "
               "counted by torch; allocator overhead, temporary buffers and cuDNN workspaces come on top."
               if memory else "")
        if tip != self.budget_label.toolTip():   # setting a tooltip costs milliseconds: not on every edit
            self.budget_label.setToolTip(tip)
        theme.set_role(self.budget_label, "error" if text.startswith("⚠") else "")

    def _on_title_changed(self) -> None:
        path = self.document.path
        self.setWindowTitle(f"{path.name if path else self.document.arch.name or 'Untitled'}[*] — LayerLoom")
        self.setWindowModified(self.document.dirty)

    def restore_layout(self) -> None:
        """Put the window and its panels back where they were when the designer last closed."""
        if self.settings.contains("window/geometry"):
            self.restoreGeometry(self.settings.value("window/geometry"))
            self.restoreState(self.settings.value("window/state"))

    def showEvent(self, event) -> None:
        """Size the panels once, when the window first has its size: narrow sides, a low bottom, a big canvas."""
        super().showEvent(event)
        if not self._sized:
            self._sized = True
            self.resizeDocks([self.findChild(QDockWidget, "Layers"), self.findChild(QDockWidget, "Inspector")],
                             [210, 300], Qt.Horizontal)
            self.resizeDocks([self.findChild(QDockWidget, "Problems")], [int(self.height() * BOTTOM_SHARE)], Qt.Vertical)

    def closeEvent(self, event) -> None:
        if not self.dashboard.confirm_close() or not self.files.confirm_discard():
            event.ignore()
            return
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.exporter.close()
        self.recovery.close()
        self.document.close()
        event.accept()


def _scrollable(widget: QWidget) -> QScrollArea:
    """`widget` in a scroll area, so that its dock can be made lower than the widget's minimum height."""
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.NoFrame)
    return area
