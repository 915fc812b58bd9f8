"""Your own data in the designer: the Training panel's pickers and preview, and the Predict tab of a finished run."""
import os
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QLabel

from layerloom import engine
from layerloom.designer.dashboard.data_preview import DataPreview
from layerloom.designer.dashboard.predict_panel import PredictPanel
from layerloom.designer.dashboard.runs import RunsView
from layerloom.designer.dashboard.train_panel import TrainPanel
from layerloom.designer.document import DocumentModel
from layerloom.designer.model_form import IntsEdit, PathEdit
from layerloom.engine.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from cli_runs import waits_on  # noqa: E402
from user_files import COLORS, class_folders, color_photos, image_classifier, picture  # noqa: E402


@pytest.fixture
def shown_panel(qtbot):
    """A shown Training panel over a template (closed, with its document's checker, at the end)."""
    documents = []

    def make(template):
        documents.append(DocumentModel(engine.load(f"templates/{template}.json")))
        panel = TrainPanel(documents[-1])
        qtbot.addWidget(panel)
        panel.show()
        return panel
    yield make
    for document in documents:
        document.close()


def choose_dataset(panel, name: str) -> None:
    combo = panel.editors["dataset"].editor
    combo.setCurrentIndex(combo.findData(name))
    combo.activated.emit(combo.currentIndex())


def wait_for(qtbot, widget):
    qtbot.waitUntil(lambda: not (widget.loading if isinstance(widget, DataPreview) else widget.busy), timeout=20_000)


def test_image_folder_gets_a_folder_picker_a_size_editor_and_a_preview(qtbot, shown_panel, tmp_path):
    folder = class_folders(tmp_path / "pets", per_class=3)
    panel = shown_panel("cnn_digits")
    document = panel.document
    choose_dataset(panel, "image_folder")
    path_editor, size_editor = panel.dataset_form.editors["path"].editor, panel.dataset_form.editors["size"].editor
    assert isinstance(path_editor, PathEdit) and path_editor.kind == "folder"
    assert isinstance(size_editor, IntsEdit) and [box.maximum() for box in size_editor.boxes] == [1024, 1024]
    wait_for(qtbot, panel.preview)
    assert "give the path of a folder" in panel.preview.summary.text()   # the error, named, before training
    path_editor.ask_path = lambda: str(folder)
    path_editor.browse.click()
    assert document.arch.training.dataset.params["path"] == str(folder)
    size_editor.boxes[0].setValue(8)
    assert list(document.arch.training.dataset.params["size"]) == [8, 32]
    wait_for(qtbot, panel.preview)
    assert panel.preview.summary.text() == "image_folder: 6 samples, input (3, 8, 32), 2 classes"
    captions = [label.text() for label in panel.preview.findChildren(QLabel) if label.text() in COLORS]
    assert sorted(set(captions)) == ["cherry", "sky"] and len(captions) == 6
    thumbs = [label for label in panel.preview.findChildren(QLabel) if label.pixmap() and not label.pixmap().isNull()]
    assert len(thumbs) == 6
    document.undo_stack.undo()
    assert list(document.arch.training.dataset.params.get("size", [32, 32])) == [32, 32]


def test_a_text_dataset_previews_its_first_lines(qtbot, shown_panel, tmp_path):
    corpus = tmp_path / "notes.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog\n" * 20)
    panel = shown_panel("char_lstm_poetry")
    choose_dataset(panel, "text")
    path_editor = panel.dataset_form.editors["path"].editor
    assert path_editor.kind == "file"
    path_editor.line.setText(str(corpus))
    path_editor.line.editingFinished.emit()
    wait_for(qtbot, panel.preview)
    lines = panel.preview.text.toPlainText().splitlines()
    assert panel.preview.text.isVisible() and len(lines) == 12
    assert all(len(line.replace(" / ", "\n")) == 64 for line in lines)   # 64-character windows, line ends shown
    assert all(set(line) <= set("the quick brown fox jumps over the lazy dog /") for line in lines)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    doc = image_classifier(root / "pets.json", class_folders(root / "pet_images"))
    assert main(["train", str(doc), "--out", str(root / "pets"), "--max-steps", "25", "--epochs", "500"]) == 0
    photos = color_photos(root / "photos", count=1)
    override = f'{{"name": "image_pairs", "params": {{"path": "{photos}", "patch": 16, "n_samples": 64}}}}'
    assert main(["train", "cnn_colorize", "--out", str(root / "colorize"), "--max-steps", "3",
                 "--dataset", override]) == 0
    return root


def predict_panel(qtbot, folder):
    panel = PredictPanel()
    qtbot.addWidget(panel)
    panel.set_run(folder)
    wait_for(qtbot, panel)
    return panel


def test_dropped_images_show_classes_saliency_and_feature_maps(qtbot, runs, tmp_path):
    panel = predict_panel(qtbot, runs / "pets")
    assert "it tells 2 classes apart" in panel.title.text()
    image = picture(tmp_path / "red one.png", (40, 30), COLORS["cherry"], seed=4)
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(image))])
    drop = QDropEvent(QPointF(5, 5), Qt.CopyAction, data, Qt.LeftButton, Qt.NoModifier)
    panel.dropEvent(drop)
    wait_for(qtbot, panel)
    assert panel.list.count() == 1 and panel.list.item(0).text().startswith("red one.png\n→ cherry")
    maps = {label.objectName(): label for label in panel.detail.findChildren(QLabel) if
            label.objectName().startswith("maps:")}
    assert list(maps) == ["maps:conv1", "maps:conv2"] and all(not m.pixmap().isNull() for m in maps.values())
    saliency = panel.detail.findChild(QLabel, "saliency: what moves the top class")
    assert saliency is not None and saliency.pixmap().width() == 220
    assert not panel.detail.findChild(QLabel, "your file").pixmap().isNull()
    image.unlink()
    os.mkfifo(image)   # replaced by a pipe since it was read: the answer shows no picture of it, without waiting
    assert not waits_on(image, lambda: panel._show_answer(0))
    assert panel.detail.findChildren(QLabel, "your file")[-1].pixmap().isNull()   # the one shown now
    panel.ask_files = lambda: [str(tmp_path / "missing.png")]
    panel.open_button.click()
    wait_for(qtbot, panel)
    assert "missing.png: no such file" in panel.message.text() and panel.list.count() == 1


def test_a_photo_and_its_colorization_side_by_side(qtbot, runs, tmp_path):
    panel = predict_panel(qtbot, runs / "colorize")
    assert "colorize" in panel.title.text()
    photo = picture(tmp_path / "old.png", (45, 33), (128, 128, 128), mode="L")
    panel.ask_files = lambda: [str(photo)]
    panel.open_button.click()
    wait_for(qtbot, panel)
    original = panel.detail.findChild(QLabel, "the photo").pixmap()
    colorized = panel.detail.findChild(QLabel, "colorized").pixmap()
    assert (original.width(), original.height()) == (colorized.width(), colorized.height()) == (420, 308)
    assert panel.detail.findChild(QLabel, "maps:enc1") is not None


def test_runs_tab_predict_opens_the_run_in_the_predict_tab(qtbot, runs):
    view = RunsView(runs)
    qtbot.addWidget(view)
    item = next(view.tree.topLevelItem(i) for i in range(view.tree.topLevelItemCount())
                if view.tree.topLevelItem(i).text(0) == "pets")
    view.tree.setCurrentItem(item)
    with qtbot.waitSignal(view.predict_requested) as asked:
        view.buttons["Predict"].click()
    assert asked.args == [runs / "pets"]


def test_a_run_predict_cannot_read_says_why(qtbot, tmp_path):
    assert main(["train", "mlp_spirals", "--out", str(tmp_path / "spirals"), "--max-steps", "1"]) == 0
    panel = predict_panel(qtbot, tmp_path / "spirals")
    assert "reads no inputs for a model trained on 'spirals' data" in panel.message.text()
    assert not panel.open_button.isEnabled()
