"""The dashboard belongs to the open document: it starts over on Open, Train never guesses a dataset, probes are
snapshots, the Runs tab reads, and a remedy is tested side by side (real `layerloom` processes)."""
import os
import re
import time

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox

from layerloom import engine
from layerloom.designer.dashboard import DashboardDock
from layerloom.designer.dashboard.progress import progress_text
from layerloom.designer.dashboard.run_store import RunSeries
from layerloom.designer.document import DocumentModel
from layerloom.designer.main_window import MainWindow
from layerloom.engine.templates import template_path
from layerloom.engine.train.events import EndEvent, ParameterCounts, StartEvent, StepEvent, parse_event, to_json


@pytest.fixture
def window(qtbot, tmp_path):
    window = MainWindow(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat),
                        recovery_dir=tmp_path / "recovery")
    window.files.ask_save_changes = lambda: QMessageBox.Discard
    window.dashboard._fixed_runs_dir = tmp_path / "runs"
    qtbot.addWidget(window)
    window.show()
    yield window
    window.dashboard.runner.shutdown()


def finish(qtbot, dock, timeout=60_000):
    qtbot.waitUntil(lambda: dock.runs and not dock.running, timeout=timeout)
    dock._redraw()


def points(item) -> int:
    x, _ = item.getData()
    return 0 if x is None else len(x)


def test_a_probe_is_a_per_layer_snapshot_and_opening_another_document_starts_over(qtbot, window):
    dock = window.dashboard
    assert window.files.open_template(template_path("deep_sigmoid_small_init"))
    window.document.wait_for_check()
    run = dock.probe()
    finish(qtbot, dock)
    assert run.status == "probed" and dock.tabs.currentWidget() is dock.charts[2]
    layers = dock.charts[2]
    line, _ = layers.profile.slots[0]
    assert points(line) == 11 and points(layers.means) == 22            # 11 weighted layers, 22 layers in all
    assert "Vanishing gradients" in dock.banner.text()
    layers = window.scene.nodes["layers"]   # the ten copies of one block: the card shows the worst inside
    assert layers.health.level == "vanishing" and layers.inner["0.linear"].level == "vanishing"
    dock.tabs.setCurrentIndex(1)                 # Gradient flow, a chart over steps: no lone dot for a probe
    flow = dock.charts[1]
    assert flow.notice.isVisibleTo(dock) and not flow.view.isVisibleTo(dock)
    assert all(points(item) == 0 for lines in flow.lines for item in lines.items)

    assert window.files.open_template(template_path("lstm_adding"))
    assert dock.runs == [] and dock.showing.text() == "" and not dock.banner.isVisibleTo(dock)
    assert all(item.health is None for item in window.scene.nodes.values())
    assert dock.runs_view.document == window.document.arch.name


def test_train_without_a_training_section_lists_the_datasets_that_fit_and_starts_nothing(qtbot, window):
    arch = engine.load(template_path("cnn_digits"))
    window.document.reset(arch.model_copy(update={"training": None}))
    window.document.wait_for_check()
    next(a for a in window.findChildren(QAction) if a.text() == "Train").trigger()
    dock, panel = window.dashboard, window.dashboard.panel
    assert not dock.running and dock.runs == [] and window.document.arch.training is None
    combo = panel.editors["dataset"].editor
    assert combo.itemData(0) == "digits" and combo.currentIndex() == -1
    assert combo.itemText(1).endswith("(does not fit)")
    assert "expects (1, 8, 8)" in combo.itemData(1, Qt.ToolTipRole)
    assert panel.fit_note.isVisibleTo(dock) and "Fit this graph:</b> digits" in panel.fit_note.text()
    assert "spirals: gives inputs of shape (2,)" in panel.fit_note.text()
    combo.setCurrentIndex(combo.findData("digits"))     # as a click in the list does
    combo.activated.emit(combo.currentIndex())
    assert window.document.arch.training.dataset.name == "digits"
    assert window.document.arch.training.loss == "cross_entropy" and not panel.fit_note.isVisibleTo(dock)


def _run_folder(root, name, document, steps=345, logged=10, classes=None):
    folder = root / name
    folder.mkdir(parents=True)
    engine.save(engine.load(template_path(document)), folder / "architecture.json")
    grads = {"a": 1.0, "b": 0.5}
    events = [StartEvent(device="cpu", parameters=ParameterCounts(total=1, trainable=1, per_node={}),
                         monitored=list(grads), total_steps=steps)]
    events += [StepEvent(step=s, epoch=1, loss=1.0 / s, grad_norm=grads, weight_norm=grads, update_ratio=grads,
                         grad_norm_total=1.0, grad_norm_clipped=1.0, clipped=False) for s in range(logged, steps, logged)]
    events.append(EndEvent(status="completed", step=steps, metrics={"val_loss": 0.5}, seconds=2.0))
    (folder / "events.jsonl").write_text("".join(to_json(e) + "\n" for e in events))
    return folder


def test_the_runs_tab_reads(qtbot, window, tmp_path):
    runs = tmp_path / "runs"
    mine = [_run_folder(runs, f"20240102-00000{i}-cnn", "cnn_digits") for i in range(3)]
    newest = _run_folder(runs, "20240103-000000-lstm", "lstm_adding")
    os.utime(newest / "events.jsonl", (time.time() + 60, time.time() + 60))     # the newest run is another's
    assert window.files.open_template(template_path("cnn_digits"))
    dock = window.dashboard
    window.show_training()          # the Training panel at the size Train gives it in a new window
    view = dock.runs_view
    dock.tabs.setCurrentWidget(view)
    listed = [view.tree.topLevelItem(i) for i in range(view.tree.topLevelItemCount())]
    assert view.tree.headerItem().text(1) == "Document"
    assert [item.text(1) for item in listed][-1] == "LSTM: the adding problem"        # the open document's first
    assert {item.text(3) for item in listed} == {"345"}
    view.filter.setText("lstm")
    assert [item.isHidden() for item in listed] == [True, True, True, False]
    view.filter.clear()

    confusion = [[30 + (i == j) * 60 for j in range(10)] for i in range(10)]
    view._show_result('{"metrics": {"accuracy": 0.5}, "confusion": ' + str(confusion) + "}")
    qtbot.waitUntil(lambda: view.matrix.isVisible())
    assert view.splitter.orientation() == Qt.Horizontal and view.tree.isVisible() and view.tree.height() > 150
    inside = view.matrix.rect()
    cells = [view.matrix.cell_rect(r, c) for r in range(10) for c in range(10)]
    assert all(inside.contains(cell.toRect()) for cell in cells) and cells[0].width() >= 18

    for item in listed[:3]:
        item.setSelected(True)
    view.buttons["Compare"].click()
    qtbot.waitUntil(lambda: len(dock.runs) == 3 and all(run.status == "completed" for run in dock.runs))
    dock._redraw()
    legend = dock.showing.text()
    assert all(folder.name in legend for folder in mine) and len(set(re.findall(r"color:(#\w+)", legend))) == 3
    assert [points(curves[0]) for curves in dock.charts[0].curves] == [34, 34, 34]
    dock.tabs.setCurrentIndex(1)
    pens = {line.opts["pen"].color().name() for line, _ in dock.charts[1].profile.slots}
    assert len(pens) == 3 and all(points(line) == 2 for line, _ in dock.charts[1].profile.slots)
    assert re.match(r"step 345/345 · .*finished", progress_text(dock.primary)[1])


def test_a_finished_run_reads_its_last_step_not_its_last_logged_one(tmp_path):
    run = RunSeries("r")
    for line in (_run_folder(tmp_path, "r", "mlp_spirals") / "events.jsonl").read_text().splitlines():
        run.feed(parse_event(line))
    assert run.latest.step == 340 and progress_text(run)[1].startswith("step 345/345")


def test_a_remedy_trains_beside_the_original_and_ends_with_a_verdict(qtbot, window):
    dock = window.dashboard
    dock.train_args = ["--max-steps", "3", "--log-every", "1"]
    assert window.files.open_template(template_path("deep_sigmoid_small_init"))
    window.document.wait_for_check()
    dock.probe()
    finish(qtbot, dock)
    [button] = dock.banner.buttons
    assert button.text().startswith("Test: ReLU")
    button.click()
    assert len(dock.runs) == 2 and dock.trial.isVisibleTo(dock)
    finish(qtbot, dock)
    assert [run.status for run in dock.runs] == ["max_steps", "max_steps"]
    before, after = map(float, re.search(r"ratio (\S+) -> ([^;\s]+)", dock.trial.verdict).groups())
    assert before < 1e-3 and 0.1 <= after <= 10
    assert dock.runs[1].document.endswith(" + relu") and "+ relu" in dock.showing.text()
    dock.tabs.setCurrentIndex(1)
    dock._redraw()
    assert all(points(line) == 11 for line, _ in dock.charts[1].profile.slots)
    dock.trial.keep.click()
    assert window.document.arch.name.endswith(" + relu") and window.document.arch.node("layers_0_relu").type == "relu"
    window.document.undo_stack.undo()
    assert window.document.arch.node("layers").type == "sigmoid_layer"


def test_layer_names_fit_their_axis_without_overlapping(qtbot):
    from layerloom.designer.dashboard.charts import FlowChart
    layers = [f"linear{i}" for i in range(40)]
    run = RunSeries("deep")
    for number in (1, 2):
        grads = {name: 10.0 ** -(40 - i) for i, name in enumerate(layers)}
        run.feed(StepEvent(step=number, epoch=1, loss=1.0, grad_norm=grads, weight_norm=grads, update_ratio=grads,
                           grad_norm_total=1.0, grad_norm_clipped=1.0, clipped=False))
    chart = FlowChart()
    qtbot.addWidget(chart)
    chart.resize(1200, 500)
    chart.show()
    chart.show_runs(run)
    qtbot.wait(50)
    for axis, room in ((chart.heat_plot.getAxis("left"), 15), (chart.profile_plot.getAxis("bottom"), 80)):
        low, high = axis.range
        [(_, values)] = axis.tickValues(low, high, axis.height() if axis.orientation == "left" else axis.width())
        length = axis.height() if axis.orientation == "left" else axis.width()
        assert 2 <= len(values) <= length / room + 1
        assert axis.tickStrings(values[:1], 1, 1) == ["linear0"]
