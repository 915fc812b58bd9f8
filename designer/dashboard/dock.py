"""DashboardDock: the train panel, the diagnosis banner and the chart tabs for the open document, redrawn from
the run buffers at a few frames per second, whatever the rate of incoming events."""
from __future__ import annotations

from collections import deque
from html import escape
from pathlib import Path
from typing import Sequence

from PySide6.QtCore import QStandardPaths, Qt, QTimer, Signal
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QMessageBox, QScrollArea, QSplitter, QTabWidget, QVBoxLayout,
                               QWidget)

from layerloom.designer import theme
from layerloom.designer.document import DocumentModel
from layerloom.engine.remedies import RemedyError, derive
from layerloom.engine import fileio
from layerloom.engine.fileio import FileError
from layerloom.engine.train.runfolder import EVENTS, MODEL

from .banner import DiagnosisBanner
from .charts import AttentionChart, BpttChart, ClippingChart, FlowChart, LayersChart, LossChart
from .charts.style import run_color
from .level_switch import LevelSwitch
from .predict_panel import PredictPanel
from .run_files import document_name
from .run_store import RunSeries
from .runner import Runner
from .runs import RunsView
from .stream import LineFeed
from .train_panel import TrainPanel
from .trial import RemedyTrial

FRAME_MS = 200     # 5 frames per second
TABS = (("Loss", LossChart), ("Gradient flow", FlowChart), ("Per layer", LayersChart),
        ("Through time / position", BpttChart), ("Attention", AttentionChart), ("Clipping && updates", ClippingChart))


def default_runs_dir(document: DocumentModel) -> Path:
    """`runs/` beside the document, or under the user's application data folder for an unsaved one."""
    if document.path is not None:
        return document.path.parent / "runs"
    return Path(QStandardPaths.writableLocation(QStandardPaths.AppDataLocation)) / "runs"


def legend_text(runs: list[RunSeries]) -> str:
    """What the charts show: one run's name, or each run's color and its document (its name when they share one)."""
    if len(runs) == 1:
        run = runs[0]
        named = run.document and run.document not in run.name
        return f"<b>{escape(run.name)}</b>" + (f" · {escape(run.document)}" if named else "")
    documents = [run.document for run in runs]
    labels = documents if len(set(documents)) == len(documents) else [run.name for run in runs]
    return "&nbsp;&nbsp;&nbsp;".join(f"<span style='color:{run_color(i)}'>━━</span>&nbsp;<b>{escape(label)}</b>"
                                     for i, label in enumerate(labels))


class DashboardDock(QWidget):
    """Train what is drawn and watch its gradients; `health_changed` carries node id -> NodeHealth for the canvas."""

    health_changed = Signal(dict)
    attention_changed = Signal(dict)   # node id -> its latest attention map (mean of the heads), for the cards
    node_requested = Signal(str)     # a layer named in the banner was clicked
    run_started = Signal(object)     # RunSeries
    run_finished = Signal(object)    # RunSeries

    def __init__(self, document: DocumentModel, runs_dir: Path | str | None = None,
                 train_args: Sequence[str] = (), parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        self.train_args = list(train_args)
        self._fixed_runs_dir = Path(runs_dir) if runs_dir is not None else None
        self.runs: list[RunSeries] = []
        self._drawn = None
        self._health: dict = {}
        self._maps: dict = {}
        self.runner = Runner(self)
        self.runner.finished.connect(self._on_run_finished)
        self.panel = TrainPanel(document)
        self.panel.start_requested.connect(self.start_training)
        self.panel.stop_requested.connect(self.stop)
        self.panel.probe_requested.connect(self.probe)
        self.banner = DiagnosisBanner()
        self.banner.node_clicked.connect(self.node_requested)
        self.banner.remedy_requested.connect(self.try_remedy)
        self.trial = RemedyTrial()
        self.trial.apply_requested.connect(self._use_variant)
        self.showing = QLabel(textFormat=Qt.RichText)
        self.level_switch = LevelSwitch()
        self.level_switch.changed.connect(self._on_level_changed)
        self.tabs = QTabWidget()
        self.charts = []
        self._build_charts()
        self.runs_view = RunsView(self.runs_dir, document.arch.name)
        self.runs_view.show_requested.connect(self.show_runs_of)
        self.runs_view.predict_requested.connect(self.open_predict)
        self.tabs.addTab(self.runs_view, "Runs")
        self.predict_panel = PredictPanel()
        self.tabs.addTab(self.predict_panel, "Predict")
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self._layout()
        document.path_changed.connect(lambda: self.runs_view.set_runs_dir(self.runs_dir))
        document.opened.connect(self.reset)
        document.changed.connect(self._show_status)     # tints only for nodes the document still has
        self._pieces: deque = deque()
        self._piece_timer = QTimer(self, singleShot=True, interval=0)
        self._piece_timer.timeout.connect(self._on_piece)
        self._timer = QTimer(self, interval=FRAME_MS)
        self._timer.timeout.connect(self._on_frame)
        self._timer.start()
        theme.notifier.changed.connect(self._on_theme_changed)
        self._redraw()

    def _build_charts(self) -> None:
        """The chart tabs, in the current theme's colors (built anew when the theme changes)."""
        index = self.tabs.currentIndex()
        for chart in self.charts:
            self.tabs.removeTab(self.tabs.indexOf(chart))
            chart.deleteLater()
        self.charts = [chart() for _, chart in TABS]
        for chart in self.charts:
            chart.level = self.level_switch.level
        for position, ((title, _), chart) in enumerate(zip(TABS, self.charts)):
            self.tabs.insertTab(position, chart, title)
        self.tabs.setCurrentIndex(max(index, 0))

    def _on_theme_changed(self, _theme) -> None:
        self._build_charts()
        self._drawn = None
        self._redraw()

    def _on_level_changed(self, level: str) -> None:
        for chart in self.charts:
            chart.level = level
        self._redraw()

    def _layout(self) -> None:
        scroll = QScrollArea(widgetResizable=True, frameShape=QScrollArea.NoFrame)
        scroll.setWidget(self.panel)
        scroll.setMinimumWidth(280)
        right = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(4, 4, 4, 4)
        heading = QHBoxLayout()
        heading.addWidget(self.showing, 1)
        heading.addWidget(self.level_switch)
        for widget in (self.banner, self.trial):
            column.addWidget(widget)
        column.addLayout(heading)
        column.addWidget(self.tabs, 1)
        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(scroll)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([320, 1000])
        QVBoxLayout(self).addWidget(splitter)
        self.layout().setContentsMargins(0, 0, 0, 0)

    # public ------------------------------------------------------------------
    @property
    def runs_dir(self) -> Path:
        return self._fixed_runs_dir or default_runs_dir(self.document)

    @property
    def running(self) -> bool:
        return self.runner.running

    @property
    def primary(self) -> RunSeries | None:
        return self.runs[0] if self.runs else None

    def start_training(self) -> RunSeries | None:
        """Train the document as it is now, in a child process; without a training section, offer the datasets
        that fit instead of guessing one."""
        if self.running:
            return None
        if self.document.arch.training is None:
            self.panel.offer_datasets()
            return None
        run = self._train([self.document.arch])
        return run[0] if run else None

    def probe(self) -> RunSeries | None:
        """Forward and backward once at initialization, shown on the graph and in the Per layer tab."""
        if self.running:
            return None
        run = self.runner.probe(self.document.arch)
        self._begin([run])
        self.tabs.setCurrentWidget(self.charts[2])
        return run

    def try_remedy(self, kind: str) -> list[RunSeries] | None:
        """Train the document and its variant with remedy `kind` side by side, and overlay them."""
        if self.running:
            return None
        if self.document.arch.training is None:
            self.panel.show_problem("Testing a remedy trains the document: choose a dataset first.")
            return None
        try:
            variant = derive(self.document.arch, kind)
        except RemedyError as error:
            self.panel.show_problem(str(error))
            return None
        runs = self._train([self.document.arch, variant])
        if runs:
            self.trial.start(kind, variant, runs)
            self.tabs.setCurrentIndex(0)
        return runs

    def stop(self) -> None:
        self.runner.stop()

    def show_runs_of(self, folders: list[Path], add: bool = False) -> None:
        """Chart past runs (added to those shown with `add`), several overlaid each in its color."""
        shown = [run.folder for run in self.runs if run.folder] if add else []
        self.runs = [self._load(Path(folder)) for folder in dict.fromkeys([*shown, *map(Path, folders)])]
        self.trial.clear()
        if self.tabs.currentWidget() not in self.charts:
            self.tabs.setCurrentIndex(0)
        self._redraw()

    def open_predict(self, folder: Path) -> None:
        """The Predict tab, for the finished run in `folder`."""
        self.predict_panel.set_run(folder)
        self.tabs.setCurrentWidget(self.predict_panel)

    def reset(self) -> None:
        """Another document was opened: the dashboard starts over for it (runs of the last one are stopped)."""
        self.runner.stop()
        self.runs = []
        self.trial.clear()
        self.panel.reset()
        self.runs_view.set_document(self.document.arch.name)
        self._redraw()

    def confirm_close(self) -> bool:
        """True when the window may close: no run going, or the person agreed to stop it."""
        if not self.running:
            return True
        answer = QMessageBox.question(self, "Training is running",
                                      "A training run is still going. Stop it and close?",
                                      QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
        if answer != QMessageBox.Yes:
            return False
        self.runner.shutdown()
        return True

    # runs --------------------------------------------------------------------
    def _train(self, archs: list) -> list[RunSeries] | None:
        try:
            runs = [self.runner.train(arch, self.runs_dir, self.train_args) for arch in archs]
        except (OSError, FileError) as error:
            self.runner.stop()
            self.panel.show_problem(f"Cannot start the run: {error}")
            return None
        self.trial.clear()
        self._begin(runs)
        return runs

    def _begin(self, runs: list[RunSeries]) -> None:
        self.runs = runs
        self.panel.set_running(True)
        self.runs_view.active = {run.folder for run in runs}
        self.run_started.emit(runs[0])
        self._redraw()

    def _on_run_finished(self, run: RunSeries) -> None:
        if not self.running:
            self.panel.set_running(False)
            self.runs_view.active = set()
            self.runs_view.refresh()
        if run.folder is not None and (run.folder / MODEL).is_file():
            self.predict_panel.set_run(run.folder)     # ready in the Predict tab
        self.trial.refresh()
        self._redraw()
        self.run_finished.emit(run)

    def _use_variant(self, variant) -> None:
        self.document.apply(variant, f"Use the variant: {self.trial.kind}")
        self.trial.clear()

    def _load(self, folder: Path) -> RunSeries:
        live = self.runner.live(folder)
        if live is not None:
            return live
        run = RunSeries(folder.name, folder, document_name(folder))
        feed = LineFeed(run.feed, parent=self)
        feed.drained.connect(lambda: self._loaded(run, feed))
        try:
            events = fileio.read_bytes(folder / EVENTS)
        except FileError:
            events = b""
        feed.write(events, final=True)
        return run

    def _loaded(self, run: RunSeries, feed: LineFeed) -> None:
        if run.running:
            run.status = "unfinished"
            run.version += 1
        feed.deleteLater()

    # drawing -----------------------------------------------------------------
    def _on_tab_changed(self, _index: int) -> None:
        if self.tabs.currentWidget() is self.runs_view:
            self.runs_view.refresh()
        self._redraw()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._redraw()

    def _on_frame(self) -> None:
        if self._pieces:
            return
        if self._frame_state() != self._drawn:
            self._pieces.extend(self._frame_pieces())
            self._piece_timer.start()
        elif self.running:
            self.panel.show_run(self.primary)     # the time left moves on between events

    def _on_piece(self) -> None:
        if self._pieces:
            self._pieces.popleft()()
        if self._pieces:
            self._piece_timer.start()

    def _redraw(self) -> None:
        """Draw everything now (after a person's action); the frame timer draws piece by piece."""
        self._pieces.clear()
        for piece in self._frame_pieces():
            piece()

    def _frame_state(self):
        return tuple((id(run), run.version) for run in self.runs), self.tabs.currentIndex()

    def _frame_pieces(self) -> list:
        """The visible chart's pieces, then the panel, the banner and the canvas tints (even while hidden)."""
        self._drawn = self._frame_state()
        chart = self.tabs.currentWidget()
        pieces = chart.frame(self.runs) if chart in self.charts and self.isVisible() else []
        return [*pieces, self._show_status]

    def _show_status(self) -> None:
        self.panel.show_run(self.primary)
        self.banner.show_run(self.primary)
        self.trial.refresh()
        self.showing.setText(legend_text(self.runs) if self.runs else "")
        levels = getattr(self.tabs.currentWidget(), "levels", False)
        self.level_switch.setVisible(levels and any(run.blocks for run in self.runs))
        nodes = {node.id for node in self.document.arch.nodes}
        health = {node: value for node, value in self.primary.health().items()   # layers inside instances too
                  if node.split(".")[0] in nodes} if self.primary else {}
        if health != self._health:
            self._health = health
            self.health_changed.emit(health)
        maps = {node: kept.items[-1] for node, kept in self.primary.attention.items()
                if node in nodes and kept.items} if self.primary else {}
        if {node: id(m) for node, m in maps.items()} != self._maps:
            self._maps = {node: id(m) for node, m in maps.items()}
            self.attention_changed.emit({node: m.weights.mean(axis=0) for node, m in maps.items()})
