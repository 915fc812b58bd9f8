"""Costs in the designer: node cards, the summary panel, the status-bar budget and the inspector follow every edit."""
import sys
from pathlib import Path

import pytest

from layerloom import engine
from layerloom.designer import edits, theme
from layerloom.designer import main_window as main_window_module
from layerloom.designer.summary_panel import ACTIVATIONS, MACS
from layerloom.engine.templates import template_path
from test_main_window import type_param, window  # noqa: F401  (the main window fixture)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))   # published_models


@pytest.fixture
def cnn_window(window, qtbot):
    """The main window (test_main_window's fixture) with cnn_digits open and its costs counted."""
    with qtbot.waitSignal(window.document.costed, timeout=20_000):
        window.document.reset(engine.load(template_path("cnn_digits")))
    return window


def summary_of(window, batch_size=None):
    return engine.summarize(window.document.arch, batch_size)


def cells(window, column):
    table = window.summary.table
    return {table.item(row, 0).text(): table.item(row, column) for row in range(table.rowCount())}


def test_cards_panel_and_status_bar_show_the_engines_costs(cnn_window):
    window = cnn_window
    summary = summary_of(window)
    macs = {row["id"]: row["macs"] for row in summary["nodes"]}
    card = window.scene.nodes["conv2"]
    assert macs["conv2"] == 294_912 and sum(macs.values()) == 315_904
    assert card.footer() == ("18.5 K params", "295 K MACs") and card.share == pytest.approx(294_912 / 315_904)
    assert window.scene.nodes["conv1"].footer() == ("320 params", "18.4 K MACs")
    assert {n for n, item in window.scene.nodes.items() if item.share} == {"conv2"}   # conv1 has 6%, fc 1%
    assert "(93% of the model's)" in card.toolTip()
    column = cells(window, MACS)
    assert {n: int(item.text().replace(",", "")) for n, item in column.items() if item.text() != "—"} == macs
    assert {n for n, item in column.items() if item.font().bold()} == {"conv2"}
    held = {row["id"]: row["activation_bytes"] for row in summary["nodes"]}
    assert sorted(held, key=held.get, reverse=True)[:5] == ["relu1", "pool1", "relu2", "pool2", "image"]
    assert {n for n, item in cells(window, ACTIVATIONS).items() if item.font().bold()} == {"relu1", "pool1", "relu2"}
    assert window.summary.table.horizontalHeaderItem(ACTIVATIONS).text() == "Activations (batch 64)"
    assert window.budget_text() == "Batch 64: 1.65 MiB to train · 316 K MACs per sample"
    assert "training memory at batch 64: 1.65 MiB (activations 1.33" in window.summary.totals.text()
    assert "cuDNN workspaces" in window.budget_label.toolTip()


def test_an_edit_in_the_inspector_updates_every_cost_view(cnn_window, qtbot):
    window = cnn_window
    window.document.select(["conv2"])
    assert "294,912 multiply-accumulates per sample" in window.inspector.node_view.cost.text()
    with qtbot.waitSignal(window.document.costed, timeout=20_000):
        type_param(window, "out_channels", "16")
    summary = summary_of(window)
    conv2 = next(row for row in summary["nodes"] if row["id"] == "conv2")
    assert conv2["macs"] == 294_912 // 4
    assert cells(window, MACS)["conv2"].text() == "73,728"
    assert window.scene.nodes["conv2"].footer() == ("4.62 K params", "73.7 K MACs")
    assert "73,728 multiply-accumulates per sample" in window.inspector.node_view.cost.text()
    assert window.budget_text().startswith(f"Batch 64: {engine.costs.format_bytes(summary['training_bytes'])} ")


def test_the_budget_follows_the_training_batch_size_and_warns_past_the_machines_memory(cnn_window, qtbot, monkeypatch):
    window = cnn_window
    arch = window.document.arch
    bigger = arch.model_copy(update={"training": arch.training.model_copy(update={"batch_size": 1000})})
    monkeypatch.setattr(main_window_module, "machine_memory", lambda: 16 * 2**20)
    with qtbot.waitSignal(window.document.costed, timeout=20_000):
        window.document.apply(bigger, "bigger batches")
    training = engine.costs.format_bytes(summary_of(window)["training_bytes"])
    assert window.budget_text() == f"⚠ Batch 1,000: {training} to train · 316 K MACs per sample, more than this machine's 16 MiB"
    assert window.budget_label.property("role") == "error"
    assert window.summary.table.horizontalHeaderItem(ACTIVATIONS).text() == "Activations (batch 1,000)"
    with qtbot.waitSignal(window.document.costed, timeout=20_000):
        window.document.apply(edits.set_params(window.document.arch, "fc", {"out_features": 3}), "fewer classes")
    assert window.budget_label.property("role") == "error"
    with qtbot.waitSignal(window.document.checked, timeout=20_000):
        window.document.apply(edits.remove_nodes(window.document.arch, ["logits"]), "no output")
    window.document.wait_for_check()
    assert window.document.memory is None and not window.budget_label.isVisibleTo(window)


@pytest.mark.parametrize("name", ["dark", "light"])
def test_the_highlighted_cells_are_readable_in_both_themes(cnn_window, qapp, name):
    window = cnn_window
    theme.apply(qapp, theme.THEMES[name])
    try:
        item = cells(window, MACS)["conv2"]
        back, text = item.background().color().name(), theme.current()["text"]
        assert back != theme.current()["base"] and theme.contrast(text, back) >= 4.5
        assert theme.contrast(theme.current()["accent"], theme.current()["card"]) >= 4.5   # the card's MACs row
    finally:
        theme.apply(qapp, theme.THEMES["dark"])


def test_params_and_macs_share_the_cards_last_row_without_eliding(cnn_window, qtbot):
    window = cnn_window
    from PySide6.QtGui import QFontMetricsF
    from layerloom.designer.canvas import style
    from layerloom.designer.canvas.node_item import FOOTER_MARGIN, FOOTER_POINTS
    import published_models
    small, bold = QFontMetricsF(style.font(FOOTER_POINTS)), QFontMetricsF(style.font(FOOTER_POINTS, bold=True))
    for arch in (published_models.vgg16(), published_models.resnet18()):
        with qtbot.waitSignal(window.document.costed, timeout=60_000):
            window.document.reset(arch)
        for item in window.scene.nodes.values():
            left, right = item.footer()
            width = small.horizontalAdvance(left) + bold.horizontalAdvance(right) + 4
            assert width <= style.NODE_WIDTH - 2 * FOOTER_MARGIN, (item.node_id, left, right)
    assert window.scene.nodes["fc"].footer() == ("513 K params", "512 K MACs")   # ResNet-18, the last one opened
