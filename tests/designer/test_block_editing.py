"""Blocks in the designer: Group and Ungroup, entering a block to edit every instance at once (one undo step),
the breadcrumb and Escape, the instance's card, inspector and palette entry, and saving it all."""
from __future__ import annotations

import torch
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from layerloom import engine
from layerloom.engine.builtin_blocks import builtin_blocks
from layerloom.engine.templates import template_path
from layerloom.engine.train.diagnosis import NodeHealth
from test_main_window import window  # noqa: F401  (the shown main window)


def opened(window, name: str):
    assert window.files.open_template(template_path(name))
    window.document.wait_for_check()
    return window.document


def outputs(arch, x):
    torch.manual_seed(0)
    return engine.compile_model(arch).eval()(x)


def double_click(window, node_id: str) -> None:
    item = window.scene.nodes[node_id]
    window.view.centerOn(item)
    at = window.view.mapFromScene(item.sceneBoundingRect().center())
    QTest.mouseDClick(window.view.viewport(), Qt.LeftButton, Qt.NoModifier, at)


def test_group_makes_a_block_and_ungroup_inlines_it_each_one_undo_step(window):
    document = opened(window, "mlp_spirals")
    before = document.arch
    document.select(["hidden2", "relu2"])
    window.canvas_actions.group.trigger()
    arch = document.arch
    [instance] = document.selection
    assert instance == "block" and arch.node(instance).type == "block" and list(arch.blocks) == ["block"]
    assert [n.id for n in arch.blocks["block"].nodes] == ["x", "hidden2", "relu2", "y"]
    assert "block/hidden2" in arch.layout.nodes and instance in window.scene.nodes
    document.wait_for_check()
    assert document.problems == []
    x = torch.randn(5, 2)
    torch.testing.assert_close(outputs(arch, x), outputs(before, x))  # the same network, the same weights
    window.canvas_actions.ungroup.trigger()
    assert {n.id for n in document.arch.nodes} >= {"block_hidden2", "block_relu2"} and "block" in document.arch.blocks
    torch.testing.assert_close(outputs(document.arch, x), outputs(before, x))
    document.undo_stack.undo()
    assert document.arch == arch
    document.undo_stack.undo()
    assert document.arch == before


def test_grouping_what_cannot_be_a_block_is_refused_with_the_reason(window):
    document = opened(window, "mlp_spirals")
    messages = []
    window.scene.message.connect(messages.append)
    document.select(["point", "hidden1"])
    window.canvas_actions.group.trigger()
    assert messages[-1] == "Cannot group: the document's inputs and outputs stay outside a block"
    document.select(["hidden1", "hidden3"])  # hidden2 runs between them, outside
    window.canvas_actions.group.trigger()
    assert messages[-1] == "Cannot group: these nodes cannot be one block: a path leaves them and comes back in"
    assert not document.arch.blocks


def test_double_click_enters_a_block_the_breadcrumb_names_it_and_escape_leaves(window, qtbot):
    document = opened(window, "resnet_digits")
    double_click(window, "stage2")
    assert document.scope == ("stage",)
    assert set(window.scene.nodes) == {"x", "down", "rest", "y"}
    assert window.view.breadcrumb.isVisible() and "stage" in window.view.breadcrumb.label.text()
    assert window.scene.nodes["down"].info.shape.shape == (32, 4, 4)   # shapes of the first instance, stage2
    double_click(window, "down")
    assert document.scope == ("stage", "down") and "proj" in window.scene.nodes
    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key_Escape)
    assert document.scope == ("stage",)
    window.view.breadcrumb.label.linkActivated.emit("0")   # 'Document' in the breadcrumb
    assert document.scope == () and "stage2" in window.scene.nodes and not window.view.breadcrumb.isVisible()


def test_an_edit_inside_a_block_changes_every_instance_as_one_undo_step(window):
    document = opened(window, "resnet_digits")
    before = document.arch
    document.enter("basic")
    document.select(["conv1"])
    form = window.inspector.node_view.form
    form.committed.emit("kernel_size", 5)
    form.committed.emit("padding", 2)
    conv1 = document.arch.blocks["basic"].nodes[1]
    assert conv1.params["kernel_size"] == 5 and conv1.params["out_channels"] == "$channels"  # the reference stays
    document.wait_for_check()
    assert document.problems == []
    weights = engine.compile_model(document.arch).state_dict()
    for key in ("stage1.0.conv1.weight", "stage1.1.conv1.weight", "stage2.rest.conv1.weight", "stage3.rest.conv1.weight"):
        assert weights[key].shape[-1] == 5, key                       # every copy of the block
    assert weights["stage3.rest.conv1.weight"].shape[0] == 64            # at its own width
    document.undo_stack.undo()
    document.undo_stack.undo()
    assert document.arch == before and document.scope == ("basic",)
    assert document.undo_stack.undoText() == ""  # opening the template is no step: two edits, two steps


def test_an_instance_card_and_inspector_show_and_edit_its_block_params_and_repeat(window):
    document = opened(window, "resnet_digits")
    card = window.scene.nodes["stage2"]
    assert card._title == "stage (block)" and ("channels", "32") in card._params
    assert card.footer()[0].endswith(" params") and card.footer()[1].endswith(" MACs")
    document.select(["stage1"])
    form = window.inspector.node_view.form
    form.committed.emit("repeat", 3)
    assert document.arch.node("stage1").repeat == 3 and ("copies", "×3") in window.scene.nodes["stage1"]._params
    form.committed.emit("repeat", 0)
    assert document.arch.node("stage1").repeat == 3   # refused, the form says why
    form.committed.emit("channels", 24)
    document.wait_for_check()
    assert document.arch.node("stage1").params == {"channels": 24}
    assert any(p.node == "stage1.0.add" for p in document.problems)  # 24 channels cannot add to the stem's 16
    window.scene.set_node_health({"stage2.down.conv1": NodeHealth("vanishing", 1e-6, ""),
                                  "stage2.rest.conv2": NodeHealth("healthy", 0.1, "")})
    card = window.scene.nodes["stage2"]
    assert card.health.level == "vanishing" and set(card.inner) == {"down.conv1", "rest.conv2"}
    height = card.card_rect()[3]
    card.toggle_inner()
    assert card.expanded and card.card_rect()[3] > height   # the inner layers' health, one row each


def test_the_palette_lists_the_documents_blocks_and_adds_an_instance(window):
    document = opened(window, "resnet_digits")
    names = [item.text(0) for item in window.palette.entries() if item.parent().text(0) == "Blocks"]
    assert names == ["basic", "down", "stage", "transformer_encoder", "transformer_encoder_prenorm"]  # then built-ins
    item = next(i for i in window.palette.entries() if i.text(0) == "basic")
    window.palette._on_item_activated(item)
    [new] = document.selection
    assert document.arch.node(new).type == "basic" and new in window.scene.nodes


def test_a_built_in_block_is_copied_into_the_document_when_first_added(window):
    document = opened(window, "char_transformer_poetry")
    before = document.arch
    item = next(i for i in window.palette.entries() if i.text(0) == "transformer_encoder")
    window.palette._on_item_activated(item)
    [new] = document.selection
    assert document.arch.node(new).type == "transformer_encoder" and new in window.scene.nodes
    assert document.arch.blocks == {"transformer_encoder": builtin_blocks()["transformer_encoder"]}
    added = window.scene.add_layer("transformer_encoder", {}, window.view.center_point())   # a drop: no second copy
    assert document.arch.node(added).type == "transformer_encoder" and len(document.arch.blocks) == 1
    document.undo_stack.undo(), document.undo_stack.undo()
    assert document.arch == before   # one undo step each, the definition with the first


def test_blocks_and_their_layout_survive_save_and_open(window, tmp_path):
    document = opened(window, "mlp_spirals")
    document.select(["hidden2", "relu2"])
    window.canvas_actions.group.trigger()
    document.enter("block")
    document.apply_view(document.view.model_copy(update={"layout": document.view.layout.moved({"relu2": (500.0, 40.0)})}),
                        "move")
    path = tmp_path / "grouped.json"
    document.save(path)
    loaded = engine.load(path)
    assert loaded == document.arch and loaded.layout.nodes["block/relu2"] == (500.0, 40.0)
    assert window.files.open_path(path, confirm=False)
    document.wait_for_check()
    assert document.scope == () and "block" in window.scene.nodes
    document.enter("block")
    assert window.scene.nodes["relu2"].pos().x() == 500.0
