"""The dashboard's views of attention models: the gradient through time and position of an LSTM and a transformer on
the same axes, the attention heatmap with its selectors, and the thumbnail on the attention layer's card."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QPainter, QPixmap
from PySide6.QtWidgets import QStyleOptionGraphicsItem

from layerloom import engine
from layerloom.designer import theme
from layerloom.designer.canvas import GraphScene
from layerloom.designer.dashboard import DashboardDock
from layerloom.designer.dashboard.banner import banner_rows
from layerloom.designer.dashboard.charts import AttentionChart, BpttChart
from layerloom.designer.dashboard.run_store import RunSeries, Thinned
from layerloom.designer.document import DocumentModel
from layerloom.engine.train.events import AttentionMap, DiagnosisEvent, ParameterCounts, StartEvent, StepEvent

COUNTS = ParameterCounts(total=1, trainable=1, per_node={})


def _start(recurrent=(), sequence=(), attention=()) -> StartEvent:
    return StartEvent(device="cpu", parameters=COUNTS, monitored=["embed"], recurrent=list(recurrent),
                      sequence=list(sequence), attention=list(attention))


def _step(number: int, **extra) -> StepEvent:
    return StepEvent(step=number, epoch=1, loss=1.0, grad_norm={"embed": 1.0}, weight_norm={"embed": 1.0},
                     update_ratio={}, grad_norm_total=1.0, grad_norm_clipped=1.0, clipped=False, **extra)


def _maps(step: int, heads: int = 2, steps: int = 4) -> AttentionMap:
    """Head h looks at key (t + h + step) % steps from query t: a different one-hot map per head and step."""
    weights = np.zeros((heads, steps, steps))
    for head in range(heads):
        weights[head, np.arange(steps), (np.arange(steps) + head + step) % steps] = 1.0
    return AttentionMap(weights=weights.tolist(), entropy=[0.0] * heads, queries=list("abcd")[:steps],
                        keys=["<pad>", "x", "y", "z"][:steps])


def _fed(*events) -> RunSeries:
    run = RunSeries("run")
    for event in events:
        run.feed(event)
    return run


LSTM = _fed(_start(recurrent=["memory"], sequence=["memory"]),
            _step(1, bptt={"memory": [1e-9, 1e-4, 1.0]}, grad_by_position={"memory": [1e-8, 1e-3, 0.5]}))
TRANSFORMER = _fed(_start(sequence=["attention"], attention=["attention"]),
                   _step(1, grad_by_position={"attention": [0.2, 0.21, 0.19]}, attention={"attention": _maps(1)}))


def test_attention_maps_are_kept_over_the_whole_run_in_fixed_memory():
    kept = Thinned(capacity=8)
    for step in range(100):
        kept.append(step)
    assert 4 <= len(kept.items) <= 8 and kept.items[0] == 0 and kept.items[-1] >= 84
    run = _fed(_start(attention=["attention"]), *(_step(s, attention={"attention": _maps(s)}) for s in (1, 50)))
    maps = run.attention["attention"].items
    assert [m.step for m in maps] == [1, 50] and maps[-1].weights.shape == (2, 4, 4) and maps[-1].queries == list("abcd")


def test_an_lstm_and_a_transformer_share_the_gradient_by_position_axes(qtbot):
    chart = BpttChart()
    qtbot.addWidget(chart)
    chart.show_runs(LSTM, TRANSFORMER)
    assert list(chart.plots) == [("memory", "h"), ("memory", "x")]
    _, _, _, latest = chart.plots[("memory", "x")]
    mine, theirs = (pair[0].yData for pair in latest)
    assert mine.tolist() == [1e-8, 1e-3, 0.5] and theirs.tolist() == [0.2, 0.21, 0.19]
    _, _, _, latest = chart.plots[("memory", "h")]
    assert latest[1][0].yData is None or len(latest[1][0].yData) == 0     # a transformer has no BPTT
    chart.show_runs(TRANSFORMER, LSTM)
    assert list(chart.plots) == [("attention", "x")]
    assert "||dL/dx_t|| at its input at step 1" in chart.plots[("attention", "x")][0].titleLabel.text


def test_the_heatmap_shows_the_chosen_head_and_step_with_token_names(qtbot):
    run = _fed(_start(attention=["attention"]), *(_step(s, attention={"attention": _maps(s)}) for s in (1, 2)))
    chart = AttentionChart()
    qtbot.addWidget(chart)
    chart.show_runs(run)
    maps = run.attention["attention"].items
    assert chart.layer == "attention" and chart.head is None and chart.shown() is maps[-1]   # follows the newest
    np.testing.assert_array_equal(chart.image.image, maps[-1].weights.mean(axis=0))
    chart.head_box.setCurrentIndex(2)
    np.testing.assert_array_equal(chart.image.image, maps[-1].weights[1])
    chart.step_slider.setValue(0)
    np.testing.assert_array_equal(chart.image.image, maps[0].weights[1])
    assert "head 2, at step 1" in chart.plot.titleLabel.text
    run.feed(_step(3, attention={"attention": _maps(3)}))
    chart.show_runs(run)
    assert chart.shown() is maps[0]         # moved back by a person: it stays there
    assert chart.plot.getAxis("bottom").names == ["·", "x", "y", "z"]
    assert chart.plot.getAxis("left").names == list("abcd")


def test_a_run_without_attention_says_where_maps_come_from(qtbot):
    chart = AttentionChart()
    qtbot.addWidget(chart)
    chart.show()
    chart.show_runs(LSTM)
    assert chart.empty.isVisible() and not chart.controls.isVisible()


@pytest.fixture
def attention_document():
    document = DocumentModel(engine.load("templates/transformer_adding.json"))
    yield document
    document.close()


def test_the_attention_layers_card_shows_its_latest_map(qtbot, tmp_path, attention_document):
    scene = GraphScene(attention_document)
    dock = DashboardDock(attention_document, runs_dir=tmp_path)
    qtbot.addWidget(dock)
    dock.attention_changed.connect(scene.set_attention_maps)
    item = scene.nodes["attention"]
    assert item.attention is None and item.boundingRect().height() > scene.nodes["embed"].boundingRect().height()
    dock.runs = [_fed(_start(attention=["attention"]), _step(1, attention={"attention": _maps(1)}))]
    dock._show_status()
    np.testing.assert_array_equal(item.attention, dock.runs[0].attention["attention"].items[-1].weights.mean(axis=0))
    assert item._thumbnail is not None and not item._thumbnail.isNull()
    dock.runs = []
    dock._show_status()
    assert item.attention is None
    dock.runner.shutdown()


def test_a_collapsed_attention_is_named_in_the_banner_and_tints_its_card(qtbot, attention_document):
    collapsed = _maps(1).model_copy(update={"entropy": [0.01, 0.02]})
    diagnosis = DiagnosisEvent(kind="collapsed_attention", nodes=["attention"], message="collapsed", remedy="Scale.",
                               step=1, key="collapsed_attention:attention")
    run = _fed(_start(attention=["attention"]), _step(1, attention={"attention": collapsed}), diagnosis)
    [(role, text, _)] = banner_rows(run)
    assert role == "attention" and "Collapsed attention" in text
    scene = GraphScene(attention_document)
    scene.set_node_health(run.health())
    item = scene.nodes["attention"]
    assert item.health.level == "attention"
    picture = QPixmap(300, 300)
    painter = QPainter(picture)
    item.paint(painter, QStyleOptionGraphicsItem())     # the tint's color is the theme's
    painter.end()
    assert theme.color("attention").isValid()
