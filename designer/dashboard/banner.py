"""The diagnosis banner: what is wrong with the gradients, where, and what to try; or why the run failed."""
from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from layerloom.designer import theme

from .run_store import RunSeries

TITLES = {   # diagnosis kind -> (title, banner role)
    "vanishing": ("Vanishing gradients", "vanishing"),
    "exploding": ("Exploding gradients", "exploding"),
    "dead_relu": ("Dead ReLUs", "dead"),
    "saturation": ("Saturated activations", "saturated"),
}
SHOWN = 3


def banner_rows(run: RunSeries | None) -> list[tuple[str, str]]:
    """(banner role, rich text) per line: the error first, then the newest diagnoses."""
    if run is None:
        return []
    rows = []
    if run.error is not None:
        where = f" at step {run.error.step}" if run.error.step is not None else ""
        node = f" (layer <b>{escape(run.error.node)}</b>)" if run.error.node else ""
        rows.append(("failed", f"<b>Training failed{where}</b>{node}: {escape(run.error.message)}"))
    diagnoses = list(run.diagnoses.values())[::-1]
    for diagnosis in diagnoses[:SHOWN]:
        title, color = TITLES[diagnosis.kind]
        nodes = ", ".join(diagnosis.nodes)
        rows.append((color, f"<b>{title}</b> in <b>{escape(nodes)}</b> (step {diagnosis.step}): "
                            f"{escape(diagnosis.message)}<br><i>Try:</i> {escape(diagnosis.remedy)}"))
    if len(diagnoses) > SHOWN:
        rows.append(("cleared", f"… and {len(diagnoses) - SHOWN} more"))
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
        self.labels = [self._label(role, text) for role, text in rows]
        for label in self.labels:
            self._layout.addWidget(label)
        self.setVisible(bool(rows))

    def text(self) -> str:
        """The banner as plain text (for tests and tooltips)."""
        return "\n".join(label.text() for label in self.labels)

    @staticmethod
    def _label(role: str, text: str) -> QLabel:
        return theme.set_role(QLabel(text, wordWrap=True, textFormat=Qt.RichText), f"banner:{role}")
