"""The Train panel: its editors come from the training models' own fields, and every edit is undoable."""
import pytest

from layerloom import engine
from layerloom.designer.dashboard.train_panel import TrainPanel
from layerloom.designer.document import DocumentModel
from layerloom.engine.config import GradClip, OptimizerConfig, TrainingConfig


@pytest.fixture
def document():
    document = DocumentModel(engine.load("templates/mlp_spirals.json"))
    yield document
    document.close()


@pytest.fixture
def panel(document, qtbot):  # qtbot after document: the panel goes before its document
    widget = TrainPanel(document)
    qtbot.addWidget(widget)
    return widget


def _bounds(field) -> tuple:
    low = next((getattr(m, a) for m in field.metadata for a in ("ge", "gt") if getattr(m, a, None) is not None), None)
    high = next((getattr(m, a) for m in field.metadata for a in ("le", "lt") if getattr(m, a, None) is not None), None)
    return low, high


@pytest.mark.parametrize("name, field", [
    ("lr", OptimizerConfig.model_fields["lr"]), ("momentum", OptimizerConfig.model_fields["momentum"]),
    ("weight_decay", OptimizerConfig.model_fields["weight_decay"]),
    ("val_fraction", TrainingConfig.model_fields["val_fraction"]), ("epochs", TrainingConfig.model_fields["epochs"]),
    ("batch_size", TrainingConfig.model_fields["batch_size"]), ("clip_value", GradClip.model_fields["max_norm"]),
])
def test_numeric_editors_take_their_range_from_the_model(panel, name, field):
    low, high = _bounds(field)
    spin = panel.editors[name].editor
    assert spin.minimum() == low and (high is None or spin.maximum() == high)
    assert spin.toolTip() in (field.description, "The max_norm or the value to clip at.")


def test_choices_come_from_the_model(panel):
    combo = panel.editors["loss"].editor
    assert [combo.itemData(i) for i in range(combo.count())] == list(TrainingConfig.model_fields["loss"].annotation.__args__)


def test_edits_are_undoable_document_edits(panel):
    document = panel.document
    lr = panel.editors["lr"].editor
    lr.setValue(0.05)
    assert document.arch.training.optimizer.lr == 0.05
    document.undo_stack.undo()
    assert document.arch.training.optimizer.lr == 0.01 and lr.value() == 0.01
    dataset = panel.editors["dataset"].editor
    dataset.setCurrentIndex(dataset.findData("moons"))
    dataset.activated.emit(dataset.currentIndex())
    assert document.arch.training.dataset.name == "moons" and panel.dataset_form.model.__name__ == "MoonsParams"
    panel.dataset_form.editors["noise"].editor.setValue(0.3)
    assert document.arch.training.dataset.params == {"noise": 0.3}
    clip = panel.editors["clip_kind"].editor
    clip.setCurrentIndex(clip.findData("max_norm"))
    clip.activated.emit(clip.currentIndex())
    assert document.arch.training.grad_clip.max_norm == 1.0 and panel.editors["clip_value"].isEnabled()
    panel.editors["clip_value"].editor.setValue(0.5)
    assert document.arch.training.grad_clip.max_norm == 0.5


def test_a_refused_value_is_explained_under_its_editor_and_changes_nothing(panel):
    panel.editors["clip_kind"].editor.setCurrentIndex(1)
    panel.editors["clip_kind"].editor.activated.emit(1)
    count = panel.document.undo_stack.count()
    panel.editors["clip_value"].editor.setValue(0.0)
    assert panel.editors["clip_value"].error.text() == "Input should be greater than 0"
    assert panel.document.undo_stack.count() == count and panel.document.arch.training.grad_clip.max_norm == 1.0
