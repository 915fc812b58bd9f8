"""`layerloom import` keeps the traced module's hierarchy as blocks: a torchvision-style ResNet imports as stages of
blocks, computing what the original computes, and `--flat` gives one node per layer."""
from __future__ import annotations

import json

import torch

from block_models import ResNet18
from exported import assert_equivalent
from layerloom import engine
from layerloom.engine.cli import main
from layerloom.engine.fximport import import_module


def imported(flat: bool = False):
    torch.manual_seed(0)
    module = ResNet18(num_classes=10)
    return module, import_module(module, [[3, 32, 32]], flat=flat)


def test_a_resnet_imports_as_stages_of_blocks_with_identical_outputs():
    module, result = imported()
    arch = result.document
    top = {n.id: (n.type, getattr(n, "repeat", 1), n.params if isinstance(n.params, dict) else None) for n in arch.nodes}
    assert top["layer1"] == ("BasicBlock", 2, {})  # nn.Sequential of two equal blocks: one instance, repeated
    # the stages are one block: what differs between them, the width, is its param
    assert [top[f"layer{i}"] for i in (2, 3, 4)] == [("layer", 1, {}), ("layer", 1, {"out_channels": 256}),
                                                    ("layer", 1, {"out_channels": 512})]
    assert {name: block.params for name, block in arch.blocks.items()} == {
        "downsample": {"out_channels": 128}, "BasicBlock": {"out_channels": 64}, "BasicBlock_2": {"out_channels": 128},
        "layer": {"out_channels": 128}}
    basic = arch.blocks["BasicBlock_2"]
    assert [n.id for n in basic.nodes] == ["x", "downsample", "conv1", "bn1", "relu", "conv2", "bn2", "add",
                                           "relu_1", "y"]
    assert basic.nodes[2].params["out_channels"] == "$out_channels"
    model = engine.compile_model(arch)
    model.load_state_dict(result.weights)
    assert "layer1.1.conv2.weight" in result.weights and "layer3.n_0.downsample.n_0.weight" in result.weights
    x = torch.randn(4, 3, 32, 32)
    module.eval()
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), module(x))
    assert_equivalent(arch)  # and its export: one class per block


def test_flat_gives_one_node_per_layer_and_the_same_weights(tmp_path, capsys):
    _, flat = imported(flat=True)
    _, blocked = imported()
    assert not flat.document.blocks and len(flat.document.nodes) == 71
    assert sorted(t.sum().item() for t in flat.weights.values()) == sorted(t.sum().item() for t in blocked.weights.values())
    out = tmp_path / "net.json"
    assert main(["import", "block_models:ResNet18", "--args", '{"num_classes": 10}', "--input-shape", "3,32,32",
                 "-o", str(out)]) == 0
    assert capsys.readouterr().out == f"{out}: 13 nodes and 4 blocks imported from block_models:ResNet18\n"
    assert json.loads(out.read_text())["nodes"][5] == {"id": "layer1", "type": "BasicBlock", "repeat": 2}
    assert main(["import", "block_models:ResNet18", "--args", '{"num_classes": 10}', "--input-shape", "3,32,32",
                 "-o", str(out), "--flat"]) == 0
    assert "71 nodes imported" in capsys.readouterr().out
