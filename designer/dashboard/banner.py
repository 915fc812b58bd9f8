"""The diagnosis banner: why a run failed, the problems active now (their layers are links, their remedy a
button that tests it), and below them, collapsed, the problems that cleared."""
from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QTextDocumentFragment
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QMenu, QToolButton, QVBoxLayout, QWidget

from layerloom.designer import theme
from layerloom.engine.remedies import REMEDIES
from layerloom.engine.train.spans import Span, alongside, said, spans

from .run_store import RunSeries

TITLES = {   # diagnosis kind -> (title, banner role)
    "vanishing": ("Vanishing gradients", "vanishing"),
    "exploding": ("Exploding gradients", "exploding"),
    "dead_relu": ("Dead ReLUs", "dead"),
    "saturation": ("Saturated activations", "saturated"),
    "collapsed_attention": ("Collapsed attention", "attention"),
    "uniform_attention": ("Uniform attention", "attention"),
}
SHOWN = 3
SHOWN_SPANS = 4    # layers (or ranges of them) named before '… and N more'
MORE, LESS = "#more", "#less"
ALL, FEWER = "#all:", "#fewer:"    # + a diagnosis's ident: name all its layers, or only the first few


def link(node: str) -> str:
    return f"<a href='#{escape(node)}'>{escape(node)}</a>"


def span_links(span: Span) -> str:
    """A layer (or block copy) as a link; a range as its two ends, linked, and how many it holds."""
    if len(span.names) == 1:
        return link(span.first)
    return f"{link(span.first)} … {link(span.last)} ({span.count})"


def node_links(nodes: list[str], among: list[str], key: str, opened: bool = False) -> str:
    """The layers as links, ranges and block copies said briefly (`among`: the layers measured alongside); past
    SHOWN_SPANS, a link '… and N more' naming them all (`key`: the diagnosis's ident; `opened`: all are named,
    with a link back to fewer)."""
    found = spans(nodes, among)
    if len(found) <= SHOWN_SPANS:
        return ", ".join(map(span_links, found))
    if opened:
        return ", ".join(map(span_links, found)) + f" <a href='{FEWER}{escape(key)}'>(fewer)</a>"
    hidden = sum(len(span.names) for span in found[SHOWN_SPANS:])
    return ", ".join(map(span_links, found[:SHOWN_SPANS])) + f" <a href='{ALL}{escape(key)}'>… and {hidden} more</a>"


def banner_rows(run: RunSeries | None, expanded: bool = False,
                opened: frozenset[str] = frozenset()) -> list[tuple[str, str, tuple[str, ...]]]:
    """(banner role, rich text, remedy kinds) per row: the error, the active problems (newest first), then
    the cleared ones as one collapsed row (one row each when `expanded`). Diagnoses whose idents are `opened`
    name all their layers."""
    if run is None:
        return []

    def among(d) -> list[str]:
        return alongside(d.nodes, run.layers, run.activations)

    def names(d) -> str:
        return node_links(d.nodes, among(d), d.ident, d.ident in opened)
    rows = []
    if run.error is not None:
        where = f" at step {run.error.step}" if run.error.step is not None else ""
        node = f" (layer {link(run.error.node)})" if run.error.node else ""
        rows.append(("failed", f"<b>Training failed{where}</b>{node}: {escape(run.error.message)}", ()))
    active = list(run.diagnoses.values())[::-1]
    for d in active[:SHOWN]:
        title, role = TITLES[d.kind]
        since = "at initialization" if run.mode == "probe" else f"since step {d.step}"
        rows.append((role, f"<b>{title}</b> in {names(d)} ({since}): {escape(d.message)}"
                           f"<br><i>Try:</i> {escape(d.remedy)}", tuple(d.remedies)))
    if len(active) > SHOWN:
        rows.append(("cleared", f"… and {len(active) - SHOWN} more active", ()))
    cleared = list(run.cleared.values())[::-1]
    if cleared and expanded:
        rows += [("cleared", f"✓ <b>{TITLES[d.kind][0]}</b> in {names(d)} cleared at step {gone.step} "
                             f"(seen from step {d.step}): {escape(d.message)} <a href='{LESS}'>hide</a>", ())
                 for d, gone in cleared]
    elif cleared:
        items = "; ".join(f"{TITLES[d.kind][0].lower()} in {escape(said(d.nodes, among(d), SHOWN_SPANS))} "
                          f"at step {gone.step}" for d, gone in cleared)
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
        self.opened: set[str] = set()     # diagnoses (by ident) whose every layer is named
        self.labels: list[QLabel] = []
        self.buttons: list[QToolButton] = []
        self.hide()
        theme.notifier.changed.connect(self._on_theme_changed)

    def show_run(self, run: RunSeries | None) -> None:
        self._run = run
        rows = banner_rows(run, self.expanded, frozenset(self.opened))
        if rows == self._rows:
            return
        self._rows = rows
        while self._layout.count():
            self._layout.takeAt(0).widget().deleteLater()
        self.labels, self.buttons = [], []
        for role, text, remedies in rows:
            self._layout.addWidget(self._row(role, text, remedies))
        self.setVisible(bool(rows))

    def _on_theme_changed(self) -> None:
        """Rebuild the rows: a label keeps the link color of the palette it was given its text under."""
        self._rows = []
        self.show_run(self._run)

    def text(self) -> str:
        """The banner as plain text (for tests and tooltips)."""
        return "\n".join(QTextDocumentFragment.fromHtml(label.text()).toPlainText() for label in self.labels)

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

    def _on_link(self, href: str) -> None:
        if href in (MORE, LESS):
            self.expanded = href == MORE
        elif href.startswith(ALL):
            self.opened.add(href.removeprefix(ALL))
        elif href.startswith(FEWER):
            self.opened.discard(href.removeprefix(FEWER))
        else:
            self.node_clicked.emit(href.removeprefix("#"))
            return
        self.show_run(self._run)
