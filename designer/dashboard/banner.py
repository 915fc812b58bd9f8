"""The diagnosis banner: why a run failed, the problems active now (their layers are links, their remedy a
button that tests it), and below them, collapsed, the problems that cleared."""
from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QMenu, QToolButton, QVBoxLayout, QWidget

from layerloom.designer import theme
from layerloom.engine.remedies import REMEDIES

from .run_store import RunSeries

TITLES = {   # diagnosis kind -> (title, banner role)
    "vanishing": ("Vanishing gradients", "vanishing"),
    "exploding": ("Exploding gradients", "exploding"),
    "dead_relu": ("Dead ReLUs", "dead"),
    "saturation": ("Saturated activations", "saturated"),
}
SHOWN = 3
MORE, LESS = "#more", "#less"


def node_links(nodes: list[str]) -> str:
    return ", ".join(f"<a href='#{escape(n)}'>{escape(n)}</a>" for n in nodes)


def banner_rows(run: RunSeries | None, expanded: bool = False) -> list[tuple[str, str, tuple[str, ...]]]:
    """(banner role, rich text, remedy kinds) per row: the error, the active problems (newest first), then
    the cleared ones as one collapsed row (one row each when `expanded`)."""
    if run is None:
        return []
    rows = []
    if run.error is not None:
        where = f" at step {run.error.step}" if run.error.step is not None else ""
        node = f" (layer {node_links([run.error.node])})" if run.error.node else ""
        rows.append(("failed", f"<b>Training failed{where}</b>{node}: {escape(run.error.message)}", ()))
    active = list(run.diagnoses.values())[::-1]
    for d in active[:SHOWN]:
        title, role = TITLES[d.kind]
        since = "at initialization" if run.mode == "probe" else f"since step {d.step}"
        rows.append((role, f"<b>{title}</b> in {node_links(d.nodes)} ({since}): {escape(d.message)}"
                           f"<br><i>Try:</i> {escape(d.remedy)}", tuple(d.remedies)))
    if len(active) > SHOWN:
        rows.append(("cleared", f"… and {len(active) - SHOWN} more active", ()))
    cleared = list(run.cleared.values())[::-1]
    if cleared and expanded:
        rows += [("cleared", f"✓ <b>{TITLES[d.kind][0]}</b> in {node_links(d.nodes)} cleared at step {gone.step} "
                             f"(seen from step {d.step}): {escape(d.message)} <a href='{LESS}'>hide</a>", ())
                 for d, gone in cleared]
    elif cleared:
        items = "; ".join(f"{TITLES[d.kind][0].lower()} in {escape(', '.join(d.nodes))} at step {gone.step}"
                          for d, gone in cleared)
        rows.append(("cleared", f"✓ <b>Cleared</b>: {items} <a href='{MORE}'>details</a>", ()))
    return rows


class DiagnosisBanner(QFrame):
    """Hidden while all is well; one tinted row per problem otherwise. `node_clicked(id)` when a layer name is
    clicked, `remedy_requested(kind)` when a remedy button is."""

    node_clicked = Signal(str)
    remedy_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("diagnosisBanner")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(3)
        self._rows: list = []
        self._run: RunSeries | None = None
        self.expanded = False
        self.labels: list[QLabel] = []
        self.buttons: list[QToolButton] = []
        self.hide()

    def show_run(self, run: RunSeries | None) -> None:
        self._run = run
        rows = banner_rows(run, self.expanded)
        if rows == self._rows:
            return
        self._rows = rows
        while self._layout.count():
            self._layout.takeAt(0).widget().deleteLater()
        self.labels, self.buttons = [], []
        for role, text, remedies in rows:
            self._layout.addWidget(self._row(role, text, remedies))
        self.setVisible(bool(rows))

    def text(self) -> str:
        """The banner as plain text (for tests and tooltips)."""
        return "\n".join(label.text() for label in self.labels)

    def _row(self, role: str, text: str, remedies: tuple[str, ...]) -> QWidget:
        row = theme.set_role(QFrame(), f"banner:{role}")
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 6, 0)
        label = QLabel(text, wordWrap=True, textFormat=Qt.RichText)
        label.setTextInteractionFlags(Qt.LinksAccessibleByMouse | Qt.TextSelectableByMouse)
        label.linkActivated.connect(self._on_link)
        self.labels.append(label)
        layout.addWidget(label, 1)
        if remedies:
            layout.addWidget(self._remedy_button(remedies), 0, Qt.AlignVCenter)
        return row

    def _remedy_button(self, kinds: tuple[str, ...]) -> QToolButton:
        """'Test: <first remedy>'; the others in its menu. Testing trains a one-change variant beside the original."""
        button = QToolButton(text=f"Test: {REMEDIES[kinds[0]].title}", toolTip=(
            "Train a copy of this document with only this change, beside the original (same seed and data), "
            "and compare them."))
        button.clicked.connect(lambda: self.remedy_requested.emit(kinds[0]))
        if len(kinds) > 1:
            menu = QMenu(button)
            for kind in kinds:
                menu.addAction(f"Test: {REMEDIES[kind].title}", lambda kind=kind: self.remedy_requested.emit(kind))
            button.setMenu(menu)
            button.setPopupMode(QToolButton.MenuButtonPopup)
        self.buttons.append(button)
        return button

    def _on_link(self, link: str) -> None:
        if link in (MORE, LESS):
            self.expanded = link == MORE
            self.show_run(self._run)
        else:
            self.node_clicked.emit(link.removeprefix("#"))
