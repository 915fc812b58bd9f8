"""The diagnosis banner: what is wrong with the gradients, where, and what to try; or why the run failed."""
from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from layerloom.designer.health import COLORS

from .run_store import RunSeries

TITLES = {
    "vanishing": ("Vanishing gradients", COLORS["vanishing"]),
    "exploding": ("Exploding gradients", COLORS["exploding"]),
    "dead_relu": ("Dead ReLUs", COLORS["dead"]),
    "saturation": ("Saturated activations", COLORS["saturated"]),
}
SHOWN = 3


def banner_rows(run: RunSeries | None) -> list[tuple[str, str]]:
    """(color, rich text) per line: the error first, then the newest diagnoses."""
    if run is None:
        return []
    rows = []
    if run.error is not None:
        where = f" at step {run.error.step}" if run.error.step is not None else ""
        node = f" (layer <b>{escape(run.error.node)}</b>)" if run.error.node else ""
        rows.append((COLORS["nonfinite"], f"<b>Training failed{where}</b>{node}: {escape(run.error.message)}"))
    diagnoses = list(run.diagnoses.values())[::-1]
    for diagnosis in diagnoses[:SHOWN]:
        title, color = TITLES[diagnosis.kind]
        nodes = ", ".join(diagnosis.nodes)
        rows.append((color, f"<b>{title}</b> in <b>{escape(nodes)}</b> (step {diagnosis.step}): "
                            f"{escape(diagnosis.message)}<br><i>Try:</i> {escape(diagnosis.remedy)}"))
    if len(diagnoses) > SHOWN:
        rows.append(("#909090", f"… and {len(diagnoses) - SHOWN} more"))
    return rows


class DiagnosisBanner(QFrame):
    """Hidden while all is well; one colored line per problem otherwise."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("diagnosisBanner")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(3)
        self._rows: list[tuple[str, str]] = []
        self.labels: list[QLabel] = []
        self.hide()

    def show_run(self, run: RunSeries | None) -> None:
        rows = banner_rows(run)
        if rows == self._rows:
            return
        self._rows = rows
        for label in self.labels:
            label.deleteLater()
        self.labels = [self._label(color, text) for color, text in rows]
        for label in self.labels:
            self._layout.addWidget(label)
        self.setVisible(bool(rows))

    def text(self) -> str:
        """The banner as plain text (for tests and tooltips)."""
        return "\n".join(label.text() for label in self.labels)

    @staticmethod
    def _label(color: str, text: str) -> QLabel:
        label = QLabel(text, wordWrap=True, textFormat=Qt.RichText)
        tint = QColor(color)
        label.setStyleSheet(f"QLabel {{ background: rgba({tint.red()}, {tint.green()}, {tint.blue()}, 36); "
                            f"border-left: 5px solid {color}; padding: 5px 8px; color: #202020; }}")
        return label
