"""Blocks: the format, every bad input told in one line with its path, per-instance shapes, compilation into
submodules, summaries, the monitor's per-layer and per-instance norms, inlining and the limits."""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import torch

from block_models import RESNET18
from exported import assert_equivalent
from layerloom import engine
from layerloom.engine import DocumentError, shapes
from layerloom.engine.cli import main
from layerloom.engine.compiler import layers
from layerloom.engine.inline import flatten, inline
from layerloom.engine.remedies import applicable, derive
from layerloom.engine.train.monitor import GradientMonitor

MLP_BLOCK = {
    "description": "a dense layer and its activation",
    "params": {"width": 16},
    "nodes": [{"id": "x", "type": "input"}, {"id": "fc", "type": "linear", "params": {"out_features": "$width"}},
              {"id": "act", "type": "relu"}, {"id": "y", "type": "output"}],
    "edges": [{"source": "x", "target": "fc"}, {"source": "fc", "target": "act"}, {"source": "act", "target": "y"}],
}


def document(*instances: dict, blocks: dict | None = None) -> dict:
    """input (8,) -> the instances in a chain -> output."""
    nodes = [{"id": "x", "type": "input", "params": {"shape": [8]}}, *instances, {"id": "y", "type": "output"}]
    ids = [n["id"] for n in nodes]
    return {"format_version": 2, "name": "Blocks", "blocks": copy.deepcopy(blocks or {"dense": MLP_BLOCK}), "nodes": nodes,
            "edges": [{"source": a, "target": b} for a, b in zip(ids, ids[1:])]}


def problem_lines(raw: dict) -> list[str]:
    try:
        problems, _ = engine.check(engine.from_dict(raw))
    except DocumentError as error:
        problems = error.problems
    return [str(p) for p in problems]


def test_blocks_round_trip_and_version_1_files_migrate():
    arch = engine.from_dict(document({"id": "a", "type": "dense", "params": {"width": 4}, "repeat": 3}))
    assert engine.loads(engine.dumps(arch)) == arch
    saved = arch.to_dict()
    assert saved["format_version"] == 2 and saved["blocks"]["dense"]["params"] == {"width": 16}
    assert saved["nodes"][1] == {"id": "a", "type": "dense", "params": {"width": 4}, "repeat": 3}
    old = {"format_version": 1, "nodes": [{"id": "x", "type": "input"}, {"id": "y", "type": "output"}],
           "edges": [{"source": "x", "target": "y"}]}
    assert engine.from_dict(old).format_version == 2


def test_each_instance_is_inferred_with_its_own_params_and_paths_name_every_node():
    arch = engine.from_dict(document({"id": "a", "type": "dense", "params": {"width": 4}},
                                     {"id": "b", "type": "dense", "repeat": 2}))
    problems, report = engine.check(arch)
    assert problems == []
    table = {path: info.shape.shape for path, _, info in report.paths() if info.shape is not None}
    assert table["a"] == (4,) and table["a.fc"] == (4,) and table["b.1.fc"] == (16,)
    assert [path for path, *_ in report.paths()] == [
        "x", "a", "a.x", "a.fc", "a.act", "a.y", "b", "b.0", "b.0.x", "b.0.fc", "b.0.act", "b.0.y",
        "b.1", "b.1.x", "b.1.fc", "b.1.act", "b.1.y", "y"]
    assert report.nodes["b"].params == (4 * 16 + 16) + (16 * 16 + 16) and report.total_params == 36 + 80 + 272


def test_instance_bodies_are_inferred_once_per_block_params_and_input_shape():
    arch = engine.from_dict(document(*({"id": f"s{i}", "type": "dense"} for i in range(4))))
    report = engine.check(arch)[1]
    # s0 sees (8,), s1..s3 see (16,): one body for s0 and one shared by the others
    assert report.nodes["s1"].copies[0] is report.nodes["s2"].copies[0] is report.nodes["s3"].copies[0]
    assert report.nodes["s0"].copies[0] is not report.nodes["s1"].copies[0]
    deep = engine.check(engine.from_dict(document({"id": "deep", "type": "dense", "repeat": 50})))[1]
    assert len({id(copy) for copy in deep.nodes["deep"].copies}) == 2  # (8,) -> (16,), then a fixed point


def test_compiled_instances_are_submodules_named_like_nn_sequential():
    arch = engine.from_dict(document({"id": "a", "type": "dense"}, {"id": "b", "type": "dense", "repeat": 2}))
    model = engine.compile_model(arch)
    assert list(model.state_dict()) == ["a.fc.weight", "a.fc.bias", "b.0.fc.weight", "b.0.fc.bias",
                                        "b.1.fc.weight", "b.1.fc.bias"]
    assert "a = self.a(x)" in model.code and "b = self.b(a)" in model.code
    assert "fc = self.fc(x)" in model.a.code and type(model.a).__name__ == "dense"
    assert [path for path, _ in layers(model)] == ["a.fc", "a.act", "b.0.fc", "b.0.act", "b.1.fc", "b.1.act"]
    torch.manual_seed(0)
    blocks = engine.compile_model(arch)
    torch.manual_seed(0)
    flat = engine.compile_model(flatten(arch))
    x = torch.randn(3, 8)
    torch.testing.assert_close(blocks(x), flat(x))  # same seed, same weights as the inlined network


def test_multi_port_blocks_take_their_input_and_output_ids_as_ports():
    pair = {"nodes": [{"id": "left", "type": "input"}, {"id": "right", "type": "input"},
                      {"id": "sum", "type": "add"}, {"id": "more", "type": "add"},
                      {"id": "total", "type": "output"}, {"id": "copy", "type": "output"}],
            "edges": [{"source": "left", "target": "sum"}, {"source": "right", "target": "sum"},
                      {"source": "sum", "target": "more"}, {"source": "left", "target": "more"},
                      {"source": "more", "target": "total"}, {"source": "left", "target": "copy"}]}
    raw = {"format_version": 2, "blocks": {"pair": pair},
           "nodes": [{"id": "a", "type": "input", "params": {"shape": [3]}}, {"id": "b", "type": "input", "params": {"shape": [3]}},
                     {"id": "p", "type": "pair"}, {"id": "y", "type": "output"}, {"id": "z", "type": "output"}],
           "edges": [{"source": "a", "target": "p", "target_port": "left"}, {"source": "b", "target": "p", "target_port": "right"},
                     {"source": "p", "source_port": "total", "target": "y"}, {"source": "p", "source_port": "copy", "target": "z"}]}
    model = engine.compile_model(engine.from_dict(raw))
    a, b = torch.randn(2, 3), torch.randn(2, 3)
    total, first = model(a, b)
    torch.testing.assert_close(total, 2 * a + b)
    torch.testing.assert_close(first, a)
    assert_equivalent(engine.from_dict(raw))  # the exported source too
    wrong = copy.deepcopy(raw)
    wrong["edges"][0]["target_port"] = "in"
    assert "node 'p', edge 0, target_port: pair has no input port 'in' (ports: left, right)" in problem_lines(wrong)


BAD_INPUTS = [
    ("undefined block", lambda d: d["nodes"][1].update(type="dens"),
     "node 'a', type: unknown layer type or block 'dens'; did you mean 'dense'?"),
    ("unknown block param", lambda d: d["nodes"][1].update(params={"widht": 3}),
     "node 'a', params.widht: block 'dense' has no param 'widht' (params: width)"),
    ("missing block param", lambda d: d["blocks"]["dense"]["params"].update(width=None),
     "node 'a', params: block 'dense' needs a value for its param 'width' (it has no default)"),
    ("$name without such a param", lambda d: d["blocks"]["dense"]["nodes"][1]["params"].update(out_features="$size"),
     "block 'dense', node 'fc', params.out_features: '$size': block 'dense' has no param 'size' (params: width)"),
    ("repeat below 1", lambda d: d["nodes"][1].update(repeat=0),
     "node 'a', repeat: Input should be greater than or equal to 1"),
    ("a param of the wrong type, per instance", lambda d: d["nodes"][1].update(params={"width": "wide"}),
     "node 'a.fc', params.out_features: Input should be a valid integer, unable to parse string as an integer"),
    ("an absurd repeat", lambda d: d["nodes"][1].update(repeat=10**12),
     "node 'a': the model would have over 271,999,999,999,872 parameters, above the limit of 2,000,000,000"),
    ("a block named like a layer", lambda d: d["blocks"].update(relu=d["blocks"]["dense"]),
     "block 'relu': 'relu' is a layer type: name the block otherwise"),
    ("$name outside any block", lambda d: d["nodes"][1].update(params={"width": "$width"}),
     "node 'a', params.width: '$width' refers to a block param, but this node is not inside a block"),
    ("a shape on a block's input", lambda d: d["blocks"]["dense"]["nodes"][0].update(params={"shape": [3]}),
     "block 'dense', node 'x', params: an input inside a block takes its shape from the edge into each instance: "
     "remove its params"),
    ("a block without an output", lambda d: d["blocks"]["dense"].update(nodes=d["blocks"]["dense"]["nodes"][:3],
                                                                        edges=d["blocks"]["dense"]["edges"][:2]),
     ["node 'a', edge 1, source_port: dense has no output port 'out' (ports: none)",
      "block 'dense': the graph has no output node"]),
]


@pytest.mark.parametrize("mutate, expected", [case[1:] for case in BAD_INPUTS], ids=[case[0] for case in BAD_INPUTS])
def test_bad_block_input_is_one_line_naming_the_path(mutate, expected):
    raw = document({"id": "a", "type": "dense"})
    mutate(raw)
    assert problem_lines(raw) == (expected if isinstance(expected, list) else [expected])


def test_recursion_names_the_cycle_and_a_multi_port_block_cannot_repeat():
    loop = {"nodes": [{"id": "x", "type": "input"}, {"id": "inner", "type": "outer"}, {"id": "y", "type": "output"}],
            "edges": [{"source": "x", "target": "inner"}, {"source": "inner", "target": "y"}]}
    raw = document({"id": "a", "type": "outer"}, blocks={"outer": copy.deepcopy(loop) | {},
                                                         "middle": loop})
    raw["blocks"]["outer"]["nodes"][1]["type"] = "middle"
    assert problem_lines(raw) == ["block 'middle': contains itself: middle -> outer -> middle"]
    raw["blocks"]["middle"]["nodes"][1]["type"] = "middle"
    assert problem_lines(raw) == ["block 'middle': contains itself: middle -> middle"]
    two = copy.deepcopy(MLP_BLOCK)
    two["nodes"].append({"id": "y2", "type": "output"})
    two["edges"].append({"source": "fc", "target": "y2"})
    raw = document({"id": "a", "type": "two", "repeat": 3}, blocks={"two": two})
    raw["edges"][1]["source_port"] = "y"
    assert problem_lines(raw) == [
        "node 'a', repeat: repeat 3 chains output to input, which needs a block with one input and one output; "
        "'two' has 1 input and 2 outputs"]


def test_a_repeat_given_by_a_block_param_is_checked_per_instance():
    stage = {"params": {"n": 2}, "nodes": [{"id": "x", "type": "input"}, {"id": "body", "type": "dense", "repeat": "$n"},
                                          {"id": "y", "type": "output"}],
             "edges": [{"source": "x", "target": "body"}, {"source": "body", "target": "y"}]}
    raw = document({"id": "s", "type": "stage", "params": {"n": 0}}, blocks={"dense": MLP_BLOCK, "stage": stage})
    assert problem_lines(raw) == ["node 's.body', repeat: Input should be greater than or equal to 1"]
    raw["nodes"][1]["params"]["n"] = 3
    assert engine.check(engine.from_dict(raw))[1].nodes["s"].params == 144 + 272 * 2


def test_an_absurd_repeat_of_a_block_without_weights_meets_the_node_limit():
    relu = {"nodes": [{"id": "x", "type": "input"}, {"id": "r", "type": "relu"}, {"id": "y", "type": "output"}],
            "edges": [{"source": "x", "target": "r"}, {"source": "r", "target": "y"}]}
    raw = document({"id": "a", "type": "act", "repeat": 10**9}, blocks={"act": relu})
    assert problem_lines(raw) == ["node 'a': the network would have over 100,000 nodes with its blocks expanded"]


def test_the_cli_says_each_problem_in_one_line_and_exits_1(tmp_path, capsys):
    raw = document({"id": "a", "type": "dense", "params": {"width": "wide"}, "repeat": 2})
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(raw))
    assert main(["check", str(path)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{path}: node 'a.0.fc', params.out_features: Input should be a valid integer, unable to parse string as an integer"]
    path.write_text(json.dumps(document({"id": "a", "type": "dense", "repeat": 2})))
    assert main(["check", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: valid, 3 nodes (10 with its blocks expanded), 416 parameters\n"


def test_summary_lists_instances_and_expands_them(tmp_path, capsys):
    path = tmp_path / "net.json"
    path.write_text(json.dumps(document({"id": "a", "type": "dense", "params": {"width": 4}},
                                        {"id": "b", "type": "dense", "repeat": 2})))
    assert main(["summary", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[3].split()[:5] == ["a", "dense", "(block)", "(4,)", "36"]
    assert lines[4].split()[:6] == ["b", "dense", "(block)", "x2", "(16,)", "352"] and len(lines) == 9
    assert main(["summary", str(path), "--expand"]) == 0
    expanded = [line.split()[0] for line in capsys.readouterr().out.splitlines()[2:-3]]
    assert expanded == ["x", "a", "a.fc", "a.act", "b", "b.0", "b.0.fc", "b.0.act", "b.1", "b.1.fc", "b.1.act", "y"]
    assert main(["summary", str(path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["nodes"]
    assert rows[2]["repeat"] == 2 and [c["id"] for c in rows[2]["children"]] == ["b.0", "b.1"]
    assert {k: v for k, v in rows[2]["children"][1]["children"][0].items() if k != "activation_bytes"} == {
        "id": "b.1.fc", "type": "linear", "output_shape": [16], "params": 272, "macs": 256}


def test_costs_are_counted_inside_instances_and_sum_to_the_flat_network():
    from layerloom.engine.costs import infer_costs
    arch = engine.from_dict(RESNET18)
    costs, flat = infer_costs(arch, engine.check(arch)[1]), infer_costs(flatten(arch), engine.check(flatten(arch))[1])
    assert costs.problems == [] and costs.total_macs == flat.total_macs and costs.activation == flat.activation
    assert costs.nodes["layer1"].macs == costs.inner["layer1.0"].macs + costs.inner["layer1.1"].macs
    assert costs.inner["layer2.first.proj"].macs == flat.nodes["layer2_first_proj"].macs


def test_monitor_reports_each_inner_layer_and_each_instance():
    model = engine.compile_model(engine.from_dict(document({"id": "b", "type": "dense", "repeat": 2})))
    monitor = GradientMonitor(model)
    assert monitor.nodes == ["b.0.fc", "b.1.fc"]
    loss = model(torch.randn(4, 8)).square().mean()
    loss.backward()
    with monitor.capture() as capture:
        model(torch.randn(4, 8))
    monitor.record_unapplied(0, 0, loss, capture)
    [event] = monitor.read().events()
    layer = {name: torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in model.get_submodule(name).parameters()]))
             for name in monitor.nodes}
    assert event.grad_norm == pytest.approx({name: norm.item() for name, norm in layer.items()})
    total = torch.linalg.vector_norm(torch.stack(list(layer.values()))).item()
    assert event.instance_grad_norm == pytest.approx({"b": total, "b.0": layer["b.0.fc"].item(),
                                                      "b.1": layer["b.1.fc"].item()})
    assert set(event.activations) == {"b.0.act", "b.1.act"}  # activation health inside the instance


def test_ungroup_inlines_an_instance_and_remedies_work_on_the_flat_network():
    arch = engine.from_dict(document({"id": "a", "type": "dense"}, {"id": "b", "type": "dense", "repeat": 2}))
    once = inline(arch, "b")
    assert [n.id for n in once.nodes] == ["x", "a", "b_0_fc", "b_0_act", "b_1_fc", "b_1_act", "y"]
    assert engine.check(once)[0] == [] and "dense" in once.blocks
    assert not flatten(arch).blocks and engine.check(flatten(arch))[1].total_params == engine.check(arch)[1].total_params
    assert "batchnorm" in applicable(arch)
    variant = derive(arch, "batchnorm")
    assert [n.id for n in variant.nodes if n.type == "batchnorm"] == ["a_fc_norm", "b_0_fc_norm", "b_1_fc_norm"]


def test_a_thousand_node_network_of_blocks_is_inferred_from_a_few_bodies(monkeypatch):
    raw = copy.deepcopy(RESNET18)
    raw["nodes"][5]["repeat"] = 120  # layer1: 120 basic blocks, 8 nodes each
    arch = engine.from_dict(raw)
    runs = []
    real = shapes._run_meta
    monkeypatch.setattr(shapes, "_run_meta", lambda *args: runs.append(args[0].type) or real(*args))
    shapes._cache.clear()
    report = engine.check(arch)[1]
    assert report.size > 1000 and report.problems == []
    assert len(runs) < 60  # each distinct layer once: the 120 copies of layer1 share one body


def test_the_example_in_docs_blocks_md_is_valid_and_says_what_check_says(capsys):
    text = (Path(__file__).resolve().parents[2] / "docs" / "blocks.md").read_text()
    raw = json.loads(re.search(r"```json\n(.*?)```", text, re.S).group(1))
    problems, report = engine.check(engine.from_dict(raw))
    assert problems == [] and f"valid, {len(report.nodes)} nodes ({report.size} with its blocks expanded)" in text
    raw["nodes"][1]["repeat"] = 10**12
    assert str(problem_lines(raw)[0]) in text.replace("net.json: ", "")
