"""The banner, the canvas tints and the tooltips tell the engine's one diagnosis, for as long as it holds."""
import pytest

from layerloom import engine
from layerloom.designer import theme
from layerloom.designer.dashboard import DashboardDock
from layerloom.designer.document import DocumentModel
from layerloom.engine.train.advice import ModelFacts
from layerloom.engine.train.diagnosis import Diagnoser, NodeHealth
from layerloom.engine.train.events import EndEvent, EventSink, ParameterCounts, StartEvent, StepEvent


def _step(number, grads, bptt=None):
    return StepEvent(step=number, epoch=1, loss=1.0, grad_norm=grads, weight_norm={n: 1.0 for n in grads},
                     update_ratio={n: 1e-3 for n in grads}, grad_norm_total=sum(grads.values()),
                     grad_norm_clipped=sum(grads.values()), clipped=False, bptt=bptt)


def write_run(folder, arch, steps):
    """A run folder whose events the engine's own Diagnoser judged, as the trainer writes them."""
    folder.mkdir()
    engine.save(arch, folder / "architecture.json")
    diagnoser = Diagnoser(ModelFacts.of(arch, arch.training))
    layers = list(steps[0].grad_norm)
    with EventSink(folder / "events.jsonl") as sink:
        sink(StartEvent(device="cpu", parameters=ParameterCounts(total=1, trainable=1, per_node={}),
                        monitored=layers, recurrent=list(steps[0].bptt or {}), total_steps=steps[-1].step))
        for event in steps:
            sink(event)
            for said in diagnoser(event):
                sink(said)
        sink(EndEvent(status="completed", step=steps[-1].step, metrics={}, seconds=1.0))
    return folder


@pytest.fixture
def dock(qtbot, tmp_path):
    def make(template):
        document = DocumentModel(engine.load(f"templates/{template}.json"))
        widget = DashboardDock(document, runs_dir=tmp_path / "runs")
        widget.tints = []
        widget.health_changed.connect(widget.tints.append)
        qtbot.addWidget(widget)
        widgets.append(widget)
        return widget
    widgets = []
    yield make
    for widget in widgets:
        widget.document.close()


def opened(qtbot, dock, folder):
    dock.show_runs_of([folder])
    qtbot.waitUntil(lambda: dock.primary.status == "completed", timeout=3000)
    dock._redraw()
    return dock.primary


def test_a_problem_that_cleared_reads_cleared_and_the_node_is_green(qtbot, dock, tmp_path):
    """lstm_adding: the memory's BPTT profile fades 3.2e-12 at step 1 and recovers by step 450 (a real run)."""
    dock = dock("lstm_adding")
    profile = lambda ratio: {"memory": [ratio, 0.5, 1.0]}
    steps = [_step(1, {"memory": 0.89, "sum": 2.3}, profile(3.2e-12)), _step(10, {"memory": 0.5, "sum": 1.0}),
             _step(450, {"memory": 0.14, "sum": 0.22}, profile(7.5e-3)), _step(500, {"memory": 0.27, "sum": 0.06},
                                                                                   profile(0.21))]
    run = opened(qtbot, dock, write_run(tmp_path / "run", dock.document.arch, steps))
    assert run.diagnoses == {} and list(run.cleared) == ["vanishing:bptt:memory:forward"]
    text = dock.banner.text()
    assert "cleared at step 500" not in text and "Cleared" in text and "at step 500" in text
    assert "Try:" not in text                            # nothing active: no remedy to try
    dock.banner._on_link("#more")
    assert "cleared at step 500 (seen from step 1)" in dock.banner.text()
    assert dock.tints[-1]["memory"].level == "healthy"


@pytest.mark.parametrize("grads, bptt", [
    ({"hidden1": 1.0, "hidden2": 5e-4, "hidden3": 1e-2, "scores": 1e-2}, None),
    ({"memory": 1.0, "sum": 1.0}, {"memory": [1.0, 0.9, 1.1, 0.8, 1e-5]}),
    ({"hidden1": 1e-9, "hidden2": 1e-7, "hidden3": 0.5, "scores": 1.0}, None),
])
def test_the_banner_and_the_tints_name_the_same_nodes(qtbot, dock, tmp_path, grads, bptt):
    dock = dock("lstm_adding" if bptt else "mlp_spirals")
    opened(qtbot, dock, write_run(tmp_path / "run", dock.document.arch, [_step(1, grads, bptt)]))
    named = {node for d in dock.primary.diagnoses.values() for node in d.nodes}
    for node in named:
        assert f"#{node}" in "".join(label.text() for label in dock.banner.labels)
    tinted = {node for node, health in dock.tints[-1].items() if health.level != "healthy"}
    assert named == tinted
    assert dock.banner.isVisibleTo(dock) == bool(named)


def test_a_layer_named_in_the_banner_is_selected_and_centered(qtbot, tmp_path):
    from PySide6.QtCore import QSettings
    from layerloom.designer.main_window import MainWindow
    window = MainWindow(DocumentModel(engine.load("templates/mlp_spirals.json")),
                        settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat), recovery_dir=tmp_path / "r")
    qtbot.addWidget(window)
    window.show()
    window.dashboard.banner.node_clicked.emit("hidden2")
    assert window.document.selection == {"hidden2"}
    center = window.view.mapToScene(window.view.viewport().rect().center())
    assert window.scene.nodes["hidden2"].sceneBoundingRect().adjusted(-20, -20, 20, 20).contains(center)
    window.document.undo_stack.setClean()
    window.close()


def test_the_health_tooltip_says_each_number_once_and_differs_from_the_selection(qtbot):
    from layerloom.designer.canvas import GraphScene, GraphView
    document = DocumentModel(engine.load("templates/mlp_spirals.json"))
    view = GraphView(GraphScene(document))
    qtbot.addWidget(view)
    view.resize(900, 500)
    view.show()
    scene = view.graph_scene()
    scene.set_node_health({"hidden1": NodeHealth("healthy", 0.0157, "gradient norm 0.0157"),
                           "hidden2": NodeHealth("vanishing", 2e-9, "gradient norm 2e-09, 1.0e-09 times that of 'scores'")})
    assert scene.nodes["hidden1"].toolTip().count("0.0157") == 1
    assert "gradient healthy" not in scene.nodes["hidden1"].toolTip()
    scene.nodes["hidden1"].setSelected(True)
    view.fitInView(scene.nodes["hidden1"].sceneBoundingRect().united(scene.nodes["hidden2"].sceneBoundingRect()))
    image = view.grab().toImage()
    colors = {f"#{image.pixel(x, y) & 0xFFFFFF:06x}" for x in range(image.width()) for y in range(image.height())}
    assert theme.hex_of("vanishing") in colors and theme.hex_of("selection") in colors
    assert theme.hex_of("selection") != theme.hex_of("vanishing")
    document.close()


def _deep(names, small):
    """A step of a deep net: the layers of `small` with a vanishing gradient, the others and 'scores' healthy."""
    return _step(1, {**{name: 1e-9 if name in small else 0.5 for name in names}, "scores": 1.0})


def test_a_long_diagnosis_reads_as_ranges_and_the_rest_on_demand(qtbot, dock, tmp_path):
    """200 layers, 90 of them vanishing: one range when they follow each other, else the first few and a link
    naming the rest; the banner stays a few lines either way."""
    dock = dock("mlp_spirals")
    names = [f"linear{i}" for i in range(1, 201)]
    opened(qtbot, dock, write_run(tmp_path / "first", dock.document.arch, [_deep(names, names[:90])]))
    assert "linear1 … linear90 (90 layers) (since step 1)" in dock.banner.text()
    assert dock.banner.labels[0].text().count("<a href") == 2
    scattered = names[0:180:2]        # linear1, linear3, ... : no two in a row
    dock.show_runs_of([write_run(tmp_path / "second", dock.document.arch, [_deep(names, scattered)])])
    qtbot.waitUntil(lambda: dock.primary.status == "completed", timeout=3000)
    dock._redraw()
    [label] = dock.banner.labels
    assert "linear1, linear3, linear5, linear7 … and 86 more" in dock.banner.text()
    assert label.text().count("<a href='#linear") == 4 and len(label.text()) < 1500
    assert "href='#all:vanishing:depth'" in label.text()
    dock.banner._on_link("#all:vanishing:depth")
    assert all(f">{name}</a>" in dock.banner.labels[0].text() for name in scattered)
    dock.banner._on_link("#fewer:vanishing:depth")
    assert "… and 86 more" in dock.banner.text()


def test_in_a_document_of_blocks_the_banner_names_the_copies(qtbot, dock, tmp_path):
    dock = dock("deep_sigmoid_small_init")
    names = [f"layers.{i}.linear" for i in range(200)]
    opened(qtbot, dock, write_run(tmp_path / "run", dock.document.arch, [_deep(names, names[:88])]))
    assert "layers.0 … layers.87 (88 blocks) (since step 1)" in dock.banner.text()


def test_a_copy_named_in_the_banner_selects_its_instance(qtbot, tmp_path):
    from PySide6.QtCore import QSettings
    from layerloom.designer.main_window import MainWindow
    window = MainWindow(DocumentModel(engine.load("templates/deep_sigmoid_small_init.json")),
                        settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat), recovery_dir=tmp_path / "r")
    qtbot.addWidget(window)
    window.show()
    for named in ("layers.3", "layers.3.linear"):
        window.document.select([])
        window.dashboard.banner.node_clicked.emit(named)
        assert window.document.selection == {"layers"}
    window.document.undo_stack.setClean()
    window.close()
