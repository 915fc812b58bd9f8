"""The Predict tab: a finished run answers the person's own files or sentences, and shows what it sees.

Image classifiers show the top classes, a saliency map and the feature maps of every convolution node;
colorizers show the photo and its colorization side by side. The engine (`engine.predict`) computes all of
it in a worker thread; this view only lays the answers out."""
from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QFileDialog, QGridLayout, QHBoxLayout, QLabel, QLineEdit, QListWidget,
                               QListWidgetItem, QPlainTextEdit, QPushButton, QScrollArea, QSplitter, QVBoxLayout,
                               QWidget)

from layerloom.designer.background import Background
from layerloom.designer import theme
from layerloom.designer.panel_style import mute, section
from layerloom.engine.predict import Explanation, Predictor, Scores
from layerloom.engine.predict.explain import tile

from ..pictures import HEAT_COLORMAP, MAPS_COLORMAP, file_pixmap, pixmap

PICTURE = 220        # pixels, the longer side of the file, the input as read and the saliency map
PHOTO = 420          # pixels, the longer side of a photo and its colorization
MAPS_COLUMNS = 16    # feature maps per row
MAPS_WIDTH = 1000    # pixels, the longer side of one node's tiled feature maps
IMAGE_KINDS = ("image", "digit", "photo")
FILTERS = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp);;CSV files (*.csv);;All files (*)"


def scores_text(scores: Scores) -> str:
    """'<b>7</b> 93.9%   3 6.0%   2 0.1%': the top classes, the likeliest in bold."""
    parts = [f"{escape(name)} {p:.1%}" for name, p in zip(scores.classes, scores.probabilities)]
    return f"<b>{parts[0]}</b>" + "".join(f"&nbsp;&nbsp;&nbsp; {part}" for part in parts[1:])


class PredictPanel(QWidget):
    """`set_run(folder)` loads a run's model; files dropped or picked, or a typed sentence, are predicted."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.predictor: Predictor | None = None
        self.folder: Path | None = None
        self.answers: list = []   # Explanation (images), Scores (sentences), (file, CSV text) (tables)
        self.title = QLabel("Select a finished run in the Runs tab and press Predict.", wordWrap=True)
        self.title.setStyleSheet("font-weight: 600;")
        self.message = QLabel(wordWrap=True)
        self.open_button = QPushButton("Open files…", toolTip="Pick images or photos for the model (or drop them here).")
        self.open_button.clicked.connect(self.pick_files)
        self.sentence = QLineEdit(placeholderText="Type a sentence and press Enter")
        self.sentence.returnPressed.connect(lambda: self.predict([self.sentence.text()]))
        self.list = QListWidget()
        self.list.currentRowChanged.connect(self._show_answer)
        self.detail = QWidget()
        self.detail_layout = QVBoxLayout(self.detail)
        self.detail_layout.setAlignment(Qt.AlignTop)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(self.detail)
        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(self.list)
        splitter.addWidget(scroll)
        splitter.setSizes([240, 900])
        controls = QHBoxLayout()
        controls.addWidget(self.open_button)
        controls.addWidget(self.sentence, 4)
        controls.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(controls)
        layout.addWidget(self.message)
        layout.addWidget(splitter, 1)
        self.worker = Background(self)
        self.worker.finished.connect(self._on_finished)
        theme.notifier.changed.connect(self._on_theme_changed)
        self._enable()

    @property
    def busy(self) -> bool:
        return self.worker.busy

    # the run ---------------------------------------------------------------------------------------
    def set_run(self, folder: Path) -> None:
        """Load the run's trained model (in the worker) and clear the answers of the previous one."""
        folder = Path(folder)
        if folder == self.folder and self.predictor is not None:
            return
        self.folder, self.predictor, self.answers = folder, None, []
        self.list.clear()
        self._clear_detail()
        self.title.setText(f"Predict with {folder.name}: loading…")
        self._say("")
        self._enable()
        self.worker.run(lambda: Predictor(folder))

    def closeEvent(self, event) -> None:
        self.worker.close()
        super().closeEvent(event)

    # inputs ----------------------------------------------------------------------------------------
    def ask_files(self) -> list[str]:
        """The files the person picks; tests replace it."""
        return QFileDialog.getOpenFileNames(self, "Choose inputs", "", FILTERS)[0]

    def pick_files(self) -> None:
        chosen = self.ask_files()
        if chosen:
            self.predict(chosen)

    def dragEnterEvent(self, event) -> None:
        if self.predictor is not None and event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            self.predict(paths)
            event.acceptProposedAction()

    def predict(self, sources: list[str]) -> None:
        """Answer each file (images, photos) or sentence, in the worker."""
        predictor = self.predictor
        sources = [s for s in sources if s.strip()]
        if predictor is None or not sources:
            return
        self._say(f"Predicting {len(sources)} input{'s' if len(sources) > 1 else ''}…")
        if predictor.kind in IMAGE_KINDS:
            self.worker.run(lambda: [predictor.explain(source) for source in sources])
        elif predictor.kind == "table":
            self.worker.run(lambda: [(source, predictor.predict_csv(source)) for source in sources])
        else:
            self.worker.run(lambda: predictor.classify(sources))

    # answers ---------------------------------------------------------------------------------------
    def _on_finished(self, result) -> None:
        if isinstance(result, Predictor):
            self.predictor = result
            self.title.setText(f"Predict with {self.folder.name}: {self._reads(result)}")
            self._say("")
        elif isinstance(result, Exception):
            if self.predictor is None:
                self.title.setText(f"Predict with {self.folder.name}")
            self._say(str(result), error=True)
        else:
            self._say("")
            for answer in result:
                self.answers.append(answer)
                self.list.addItem(QListWidgetItem(self._list_text(answer)))
            self.list.setCurrentRow(self.list.count() - 1)
        self._enable()

    def _reads(self, predictor: Predictor) -> str:
        if predictor.kind == "photo":
            return "drop or open grayscale photos to colorize them."
        if predictor.kind in IMAGE_KINDS:
            return f"drop or open images; it tells {len(predictor.class_names)} classes apart."
        if predictor.kind == "table":
            return "drop or open CSV files; they come back with prediction columns."
        return "type a sentence."

    def _list_text(self, answer) -> str:
        if isinstance(answer, tuple):
            return f"{Path(answer[0]).name}\n→ {answer[1].count(chr(10)) - 1} rows predicted"
        if isinstance(answer, Scores):
            return f"{answer.source}\n→ {answer.classes[0]} ({answer.probabilities[0]:.0%})"
        name = Path(answer.source).name
        if answer.scores is None:
            return f"{name}\n→ colorized"
        return f"{name}\n→ {answer.scores.classes[0]} ({answer.scores.probabilities[0]:.0%})"

    def _show_answer(self, row: int) -> None:
        self._clear_detail()
        if not 0 <= row < len(self.answers):
            return
        answer = self.answers[row]
        if isinstance(answer, tuple):
            self.detail_layout.addWidget(QPlainTextEdit(answer[1], readOnly=True, lineWrapMode=QPlainTextEdit.NoWrap))
            return
        if isinstance(answer, Scores):
            self._add_text(scores_text(answer) + (f"<br>({escape(answer.note)})" if answer.note else ""))
            return
        if answer.scores is not None:
            self._add_text(scores_text(answer.scores))
            yours = file_pixmap(answer.source).scaled(PICTURE, PICTURE, Qt.KeepAspectRatio, Qt.SmoothTransformation)
            self._add_pictures([("your file", yours),
                                ("what the model reads", self._picture(answer.image, PICTURE)),
                                ("saliency: what moves the top class", pixmap(answer.saliency, PICTURE,
                                                                              HEAT_COLORMAP))])
        if answer.colorized is not None:
            self._add_pictures([("the photo", self._picture(answer.image, PHOTO)),
                                ("colorized", pixmap(answer.colorized, PHOTO))])
        self._add_maps(answer)

    def _on_theme_changed(self, _theme) -> None:
        self._show_answer(self.list.currentRow())   # the feature maps' gaps are painted in the window color

    def _picture(self, image, longest: int):
        return pixmap(image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0), longest)

    def _add_maps(self, answer: Explanation) -> None:
        if not answer.maps:
            return
        self.detail_layout.addWidget(section("Feature maps"))
        for node_id, maps in answer.maps.items():
            channels, height, width = maps.shape
            self.detail_layout.addWidget(mute(QLabel(f"{node_id}: {channels} channels of {height}×{width}")))
            picture = QLabel()
            picture.setPixmap(pixmap(tile(maps, MAPS_COLUMNS), MAPS_WIDTH, MAPS_COLORMAP))
            picture.setObjectName(f"maps:{node_id}")
            self.detail_layout.addWidget(picture)

    def _add_pictures(self, pictures: list) -> None:
        row = QGridLayout()
        for column, (caption, image) in enumerate(pictures):
            label = QLabel(alignment=Qt.AlignCenter)
            label.setPixmap(image)
            label.setObjectName(caption)
            row.addWidget(mute(QLabel(caption, alignment=Qt.AlignCenter)), 0, column)
            row.addWidget(label, 1, column)
        holder = QWidget()
        holder.setLayout(row)
        self.detail_layout.addWidget(holder)

    def _add_text(self, text: str) -> None:
        label = QLabel(text, wordWrap=True, textFormat=Qt.RichText)
        label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        font = label.font()
        font.setPointSizeF(font.pointSizeF() * 1.2)
        label.setFont(font)
        self.detail_layout.addWidget(label)

    def _clear_detail(self) -> None:
        while self.detail_layout.count():
            self.detail_layout.takeAt(0).widget().deleteLater()

    def _say(self, text: str, error: bool = False) -> None:
        theme.set_role(self.message, "error" if error else "muted").setText(text)
        self.message.setVisible(bool(text))

    def _enable(self) -> None:
        kind = self.predictor.kind if self.predictor else None
        self.open_button.setVisible(kind != "sentence")
        self.open_button.setEnabled(kind is not None)
        self.sentence.setVisible(kind == "sentence")
