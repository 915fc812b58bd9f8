"""The gradient charts per layer or per block copy: the blocks level draws the monitor's norm of each copy."""
import numpy as np
import pytest

from layerloom import engine
from layerloom.designer.dashboard import DashboardDock
from layerloom.designer.document import DocumentModel
from layerloom.engine.train.events import EndEvent, EventSink, ParameterCounts, StartEvent, StepEvent

LAYERS = [f"layers.{i}.linear" for i in range(10)] + ["scores"]
BLOCKS = [f"layers.{i}" for i in range(10)] + ["scores"]


def _run(folder, arch, layers):
    """Two steps of a deep net whose gradient shrinks 10x a layer towards the input; each block copy's norm (as
    the monitor sends it) is 3x its layer's, so a chart drawing it is told apart from one drawing the layers."""
    folder.mkdir()
    engine.save(arch, folder / "architecture.json")
    grads = {name: 10.0 ** (i - len(layers)) for i, name in enumerate(layers)}
    copies = {name.rsplit(".", 1)[0]: 3 * value for name, value in grads.items() if "." in name}
    with EventSink(folder / "events.jsonl") as sink:
        sink(StartEvent(device="cpu", parameters=ParameterCounts(total=1, trainable=1, per_node={}),
                        monitored=layers, recurrent=[], total_steps=2))
        for step in (1, 2):
            sink(StepEvent(step=step, epoch=1, loss=1.0, grad_norm=grads,
                           instance_grad_norm={"layers": 1.0, **copies} if copies else None,
                           weight_norm={n: 1.0 for n in grads}, update_ratio={n: 1e-3 for n in grads},
                           grad_norm_total=1.0, grad_norm_clipped=1.0, clipped=False))
        sink(EndEvent(status="completed", step=2, metrics={}, seconds=1.0))
    return folder, grads, copies


@pytest.fixture
def opened(qtbot, tmp_path):
    def make(template, layers):
        document = DocumentModel(engine.load(f"templates/{template}.json"))
        dock = DashboardDock(document, runs_dir=tmp_path / "runs")
        qtbot.addWidget(dock)
        dock.show()
        docks.append(dock)
        folder, grads, copies = _run(tmp_path / template, document.arch, layers)
        dock.show_runs_of([folder])
        qtbot.waitUntil(lambda: dock.primary.status == "completed", timeout=3000)
        dock.tabs.setCurrentIndex(1)     # Gradient flow
        dock._redraw()
        return dock, grads, copies
    docks = []
    yield make
    for dock in docks:
        dock.document.close()


def _profile(chart):
    line, _dots = chart.profile.slots[0]
    return chart.profile._layers, 10 ** np.asarray(line.getData()[1])


def test_the_blocks_level_draws_each_copy_with_the_monitors_norm(qtbot, opened):
    from PySide6.QtCore import Qt
    dock, grads, copies = opened("deep_sigmoid_small_init", LAYERS)
    flow, layers_tab = dock.charts[1], dock.charts[2]
    assert dock.level_switch.isVisible() and flow.lines[0].labels == LAYERS
    qtbot.mouseClick(dock.level_switch.buttons["blocks"], Qt.LeftButton)
    assert flow.lines[0].labels == BLOCKS
    names, heights = _profile(flow)
    assert names == BLOCKS and heights == pytest.approx([*copies.values(), grads["scores"]])
    assert flow.heatmap.image.shape[1] == len(BLOCKS)
    x, y = flow.lines[0].items[0].getData()
    assert 10 ** y[0] == pytest.approx(copies["layers.0"])
    assert flow.profile.slots[0][1]["vanishing"].data.size > 0     # a copy takes the worst health inside it
    dock.tabs.setCurrentWidget(layers_tab)
    dock._redraw()
    assert _profile(layers_tab)[0] == BLOCKS
    qtbot.mouseClick(dock.level_switch.buttons["layers"], Qt.LeftButton)
    names, heights = _profile(layers_tab)
    assert names == LAYERS and heights == pytest.approx(list(grads.values()))


def test_a_flat_document_offers_no_blocks_level(opened):
    dock, _, _ = opened("mlp_spirals", ["hidden1", "hidden2", "scores"])
    assert not dock.level_switch.isVisible()
