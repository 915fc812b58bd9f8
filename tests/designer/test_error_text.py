"""One translator of pydantic's errors (engine/errors.py): every surface gives the same words for one mistake."""
import json

import pytest

from layerloom import engine
from layerloom.designer import edits
from layerloom.designer.dashboard.train_panel import TrainPanel
from layerloom.designer.document import DocumentModel
from layerloom.designer.inspector import InspectorWidget
from layerloom.engine.cli import main

KERNEL = "item 2: Input should be greater than or equal to 1"   # kernel_size [3, 0]
LR = "Input should be greater than 0"                            # optimizer.lr 0


@pytest.fixture
def cnn() -> dict:
    return json.loads(engine.dumps(engine.load("templates/cnn_digits.json")))


@pytest.fixture
def documents():
    """Opens documents and closes them (their check threads) even when the test fails."""
    opened = []
    yield lambda arch: opened.append(DocumentModel(arch)) or opened[-1]
    for document in opened:
        document.close()


def _with(data: dict, node_id: str, **params) -> dict:
    node = next(n for n in data["nodes"] if n["id"] == node_id)
    node["params"] = {**node.get("params", {}), **params}
    return data


def test_the_engine_and_the_command_line(cnn, tmp_path, capsys):
    with pytest.raises(engine.DocumentError) as error:
        engine.from_dict(_with(cnn, "conv1", kernel_size=[3, 0]))
    assert [p.message for p in error.value.problems] == [KERNEL]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(cnn))
    assert main(["check", str(path)]) == 1
    assert capsys.readouterr().out.strip() == f"{path}: node 'conv1', params.kernel_size: {KERNEL}"


def test_an_edit(cnn):
    arch = engine.from_dict(cnn)
    with pytest.raises(edits.EditError) as error:
        edits.set_params(arch, "conv1", {**arch.node("conv1").params.model_dump(), "kernel_size": [3, 0]})
    assert [(p.field, p.message) for p in error.value.problems] == [("kernel_size", KERNEL)]


def test_the_inspector(cnn, documents, qtbot):
    document = documents(engine.from_dict(cnn))
    inspector = InspectorWidget(document)
    qtbot.addWidget(inspector)
    document.select(["conv1"])
    field = inspector.node_view.form.editors["kernel_size"]
    field.editor.setText("3, 0")
    field.editor.editingFinished.emit()
    assert field.error.text() == KERNEL


def test_the_train_panel_and_the_engine_agree(cnn, documents, qtbot):
    cnn["training"]["optimizer"] = {**cnn["training"].get("optimizer", {}), "lr": 0}
    with pytest.raises(engine.DocumentError) as error:
        engine.from_dict(cnn)
    assert [(p.field, p.message) for p in error.value.problems] == [("training.optimizer.lr", LR)]
    document = documents(engine.load("templates/cnn_digits.json"))
    panel = TrainPanel(document)
    qtbot.addWidget(panel)
    panel.editors["lr"].editor.setValue(0.0)
    assert panel.editors["lr"].error.text() == LR and document.undo_stack.count() == 0
