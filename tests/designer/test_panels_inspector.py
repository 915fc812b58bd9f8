"""The inspector: a params form for every layer type, undoable edits, inline errors, renames, document fields."""
import pytest
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox

from layerloom import engine
from layerloom.designer import edits
from layerloom.designer.document import DocumentModel
from layerloom.designer.inspector import InspectorWidget
from layerloom.engine.layers import REGISTRY

# A small CNN written out here, so that the expected values do not follow the templates' tuning.
CNN = {
    "format_version": 1, "name": "CNN digits", "description": "Reads 8x8 digits.",
    "nodes": [
        {"id": "image", "type": "input", "params": {"shape": [1, 8, 8]}},
        {"id": "conv1", "type": "conv2d", "params": {"out_channels": 16, "kernel_size": 3, "padding": 1}},
        {"id": "relu1", "type": "relu"},
        {"id": "pool1", "type": "maxpool2d", "params": {"kernel_size": 2}},
        {"id": "conv2", "type": "conv2d", "params": {"out_channels": 32, "kernel_size": 3, "padding": 1}},
        {"id": "flat", "type": "flatten"},
        {"id": "fc", "type": "linear", "params": {"out_features": 10}},
        {"id": "logits", "type": "output"},
    ],
    "edges": [{"source": a, "target": b} for a, b in [
        ("image", "conv1"), ("conv1", "relu1"), ("relu1", "pool1"), ("pool1", "conv2"), ("conv2", "flat"),
        ("flat", "fc"), ("fc", "logits"),
    ]],
}


@pytest.fixture
def document(qtbot):
    arch = engine.from_dict(CNN)
    engine.check(arch)  # warms the shape cache, so the background check is quick
    doc = DocumentModel(arch)
    doc.wait_for_check()
    yield doc
    doc.close()


@pytest.fixture
def inspector(document, qtbot):
    widget = InspectorWidget(document)
    qtbot.addWidget(widget)
    return widget


def _params(document, node_id):
    return next(n.params for n in document.arch.nodes if n.id == node_id)


def _commit_text(editor: QLineEdit, text: str) -> None:
    editor.setText(text)
    editor.editingFinished.emit()


@pytest.mark.parametrize("layer_type", sorted(REGISTRY))
def test_form_for_every_layer_type(document, inspector, layer_type):
    arch, node_id = edits.add_node(document.arch, layer_type)
    document.apply(arch, "add")
    document.select([node_id])
    view = inspector.node_view
    assert inspector.stack.currentWidget() is not inspector.document_view and view.node_id == node_id
    assert set(view.form.editors) == set(REGISTRY[layer_type].params.model_fields)
    params = _params(document, node_id)
    for name, field_editor in view.form.editors.items():
        assert field_editor.value() == getattr(params, name), name   # the form shows the model's values
        assert field_editor.editor.toolTip()
    assert view.minimumSizeHint().width() <= 320   # a long title wraps: the cost lines need no sideways scroll


def test_spin_box_edit_is_one_undo_step_and_undo_updates_the_form(document, inspector):
    document.select(["conv1"])
    view = inspector.node_view
    spin = view.form.editors["out_channels"].editor
    assert isinstance(spin, QSpinBox) and spin.minimum() == 1 and not spin.keyboardTracking()
    spin.setValue(6)
    assert _params(document, "conv1").out_channels == 6 and document.undo_stack.count() == 1
    document.undo_stack.undo()
    assert _params(document, "conv1").out_channels == 16
    assert spin.value() == 16 and inspector.node_view is view  # updated in place, not rebuilt


def test_kernel_size_text_editor_accepts_one_or_two_numbers(document, inspector):
    document.select(["conv1"])
    editor = inspector.node_view.form.editors["kernel_size"].editor
    assert isinstance(editor, QLineEdit)
    _commit_text(editor, "3, 5")
    assert _params(document, "conv1").kernel_size == (3, 5)
    _commit_text(editor, "[5]")
    assert _params(document, "conv1").kernel_size == 5
    document.undo_stack.undo()
    document.undo_stack.undo()
    assert _params(document, "conv1").kernel_size == 3 and editor.text() == "3"


@pytest.mark.parametrize("text, message", [
    ("0", "greater than or equal to 1"),
    ("3, 5, 7", "at most 2 items"),
    ("3, 0", "item 2: Input should be greater than or equal to 1"),
    ("", "Enter a value"),
])
def test_invalid_text_shows_the_error_and_changes_nothing(document, inspector, qtbot, text, message):
    document.select(["conv1"])
    field = inspector.node_view.form.editors["kernel_size"]
    before = document.arch
    _commit_text(field.editor, text)
    assert document.arch == before and document.undo_stack.count() == 0
    assert not field.error.isHidden() and message in field.error.text()
    assert field.editor.property("invalid") is True
    with qtbot.waitSignal(document.checked, timeout=10_000):   # the view refreshes: the refused entry stays
        document.apply(document.arch.model_copy(update={"name": "renamed"}), "rename")
    assert field.editor.text() == text and message in field.error.text()
    _commit_text(field.editor, "5")   # a valid entry clears the error
    assert field.error.isHidden() and _params(document, "conv1").kernel_size == 5


def test_padding_accepts_a_keyword(document, inspector):
    document.select(["conv1"])
    _commit_text(inspector.node_view.form.editors["padding"].editor, "same")
    assert _params(document, "conv1").padding == "same"


def test_float_bounds_are_checked_inline(document, inspector):
    document.select(["conv1"])
    field = inspector.node_view.form.editors["init_gain"]
    assert isinstance(field.editor, QDoubleSpinBox)
    field.editor.setValue(0.0)
    assert "greater than 0" in field.error.text() and document.undo_stack.count() == 0
    field.editor.setValue(2.5)
    assert _params(document, "conv1").init_gain == 2.5 and field.error.isHidden()


def test_bool_choice_and_list_editors_commit(document, inspector):
    document.select(["conv1"])
    form = inspector.node_view.form
    bias, init = form.editors["bias"].editor, form.editors["init"].editor
    assert isinstance(bias, QCheckBox) and isinstance(init, QComboBox)
    bias.setChecked(False)
    init.setCurrentIndex(init.findText("orthogonal"))
    init.activated.emit(init.currentIndex())
    assert not _params(document, "conv1").bias and _params(document, "conv1").init == "orthogonal"
    document.select(["image"])
    shape = inspector.node_view.form.editors["shape"].editor
    assert shape.text() == "1, 8, 8"
    _commit_text(shape, "1, 16, 16")
    assert _params(document, "image").shape == [1, 16, 16]
    assert document.undo_stack.count() == 3


def test_optional_field_is_enabled_by_its_checkbox(document, inspector):
    document.select(["pool1"])
    field = inspector.node_view.form.editors["stride"]
    assert field.enable is not None and not field.enable.isChecked() and not field.editor.isEnabled()
    field.enable.setChecked(True)
    assert _params(document, "pool1").stride == 1 and field.editor.isEnabled()
    _commit_text(field.editor, "2, 1")
    assert _params(document, "pool1").stride == (2, 1)
    field.enable.setChecked(False)
    assert _params(document, "pool1").stride is None


def test_rename_through_the_id_field_renames_edges(document, inspector):
    document.select(["conv1"])
    _commit_text(inspector.node_view.id_edit, "features")
    ids = {n.id for n in document.arch.nodes}
    assert "features" in ids and "conv1" not in ids
    assert any(e.target == "features" for e in document.arch.edges)
    assert any(e.source == "features" for e in document.arch.edges)
    assert document.selection == {"features"} and inspector.node_view.node_id == "features"
    document.undo_stack.undo()
    assert "conv1" in {n.id for n in document.arch.nodes}


@pytest.mark.parametrize("new_id, message", [("relu1", "already used"), ("3x", "not a valid id")])
def test_refused_rename_shows_why(document, inspector, new_id, message):
    document.select(["conv1"])
    view = inspector.node_view
    before = document.arch
    _commit_text(view.id_edit, new_id)
    assert document.arch == before and message in view.id_error.text() and not view.id_error.isHidden()
    document.select([])
    document.select(["conv1"])  # coming back starts from a clean form
    assert inspector.node_view.id_edit.text() == "conv1" and inspector.node_view.id_error.isHidden()


def test_form_is_rebuilt_only_for_another_node(document, inspector):
    document.select(["conv1"])
    view = inspector.node_view
    document.apply(edits.move_nodes(document.arch, {"conv1": (5, 5)}), "move")
    document.wait_for_check()
    assert inspector.node_view is view
    document.select(["conv2"])
    assert inspector.node_view is not view and inspector.node_view.node_id == "conv2"


def test_shapes_params_and_problems_of_the_node(document, inspector, qtbot):
    document.select(["conv1"])
    view = inspector.node_view
    assert view.shape.text() == "(16, 8, 8)" and view.params.text() == "160"
    with qtbot.waitSignal(document.checked, timeout=10_000):
        document.apply(edits.set_params(document.arch, "image", {"shape": [1, 8]}), "bad input")
    assert "expects input of shape" in view.problems.text() and not view.problems.isHidden()


def test_no_selection_shows_the_editable_document(document, inspector):
    page = inspector.document_view
    assert inspector.stack.currentWidget() is page and page.name_edit.text() == "CNN digits"
    assert page.totals["Parameters"].text() == f"{engine.summarize(document.arch)['total_params']:,}"
    _commit_text(page.name_edit, "Digits v2")
    page.description_edit.setPlainText("Short.")
    page.description_edit.editingFinished.emit()
    assert (document.arch.name, document.arch.description) == ("Digits v2", "Short.")
    document.undo_stack.undo()
    document.undo_stack.undo()
    assert page.name_edit.text() == "CNN digits" and page.description_edit.toPlainText() == document.arch.description


def test_multiple_selection_shows_a_count(document, inspector):
    document.select(["conv1", "relu1", "fc"])
    assert inspector.stack.currentWidget() is inspector.multi and "3 nodes selected" in inspector.multi.text()
