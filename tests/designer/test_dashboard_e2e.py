"""The dashboard driving the real `layerloom train` in a child process: stream, stop, a NaN run, a second run."""
import pytest

from layerloom import engine
from layerloom.designer.dashboard import DashboardDock
from layerloom.designer.document import DocumentModel
from layerloom.engine import Edge, make_node
from layerloom.engine.config import DatasetRef, OptimizerConfig, TrainingConfig

SMALL_SPIRALS = DatasetRef(name="spirals", params={"n_samples": 200})


def exploding_mlp() -> engine.Architecture:
    """Weights 100x too large and SGD at lr 10: the loss is NaN within a few steps."""
    nodes = [make_node("x", "input", shape=[2]), make_node("h1", "linear", out_features=16, init_gain=100.0),
             make_node("h2", "linear", out_features=16, init_gain=100.0),
             make_node("s", "linear", out_features=2, init_gain=100.0), make_node("y", "output")]
    edges = [Edge(source=a, target=b) for a, b in (("x", "h1"), ("h1", "h2"), ("h2", "s"), ("s", "y"))]
    training = TrainingConfig(dataset=SMALL_SPIRALS, loss="cross_entropy", optimizer=OptimizerConfig(name="sgd", lr=10.0))
    return engine.Architecture(name="exploding", nodes=nodes, edges=edges, training=training)


@pytest.fixture
def dock(qtbot, tmp_path):
    arch = engine.load("templates/mlp_spirals.json")
    arch = arch.model_copy(update={"training": arch.training.model_copy(update={"dataset": SMALL_SPIRALS, "epochs": 1000})})
    document = DocumentModel(arch)
    widget = DashboardDock(document, runs_dir=tmp_path / "runs", train_args=["--log-every", "1"])
    qtbot.addWidget(widget)
    yield widget
    widget.runner.shutdown()
    document.close()


def test_train_stop_then_a_nan_run_then_edit_again(qtbot, dock):
    tints = []
    dock.health_changed.connect(tints.append)
    dock.panel.start_button.click()
    run = dock.primary
    qtbot.waitUntil(lambda: run.steps_seen >= 3, timeout=40_000)
    assert run.layers == ["hidden1", "hidden2", "hidden3", "scores"] and run.device == "cpu"
    qtbot.waitUntil(lambda: bool(tints) and set(run.layers) <= set(tints[-1]), timeout=2000)
    dock.panel.stop_button.click()
    qtbot.waitUntil(lambda: not dock.running, timeout=15_000)
    assert run.status == "cancelled", run.stderr
    assert (run.folder / "events.jsonl").is_file() and (run.folder / "architecture.json").is_file()

    dock.document.apply(exploding_mlp(), "Open an exploding design")
    dock.panel.start_button.click()
    failed = dock.primary
    assert failed is not run
    qtbot.waitUntil(lambda: not dock.running, timeout=40_000)
    assert failed.status == "failed" and "nan" in failed.error.message.lower()
    qtbot.waitUntil(lambda: "Training failed" in dock.banner.text(), timeout=2000)
    assert "Exploding gradients" in dock.banner.text()
    assert tints[-1][failed.error.node].level == "nonfinite"

    dock.panel.editors["lr"].editor.setValue(0.01)
    assert dock.document.arch.training.optimizer.lr == 0.01
    assert dock.panel.start_button.isEnabled() and dock.runs_view.tree.topLevelItemCount() == 2
