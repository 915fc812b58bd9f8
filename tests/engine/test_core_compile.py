"""Compilation to torch.fx: readable code, submodules named after node ids, several inputs and outputs."""
from __future__ import annotations

import pytest
import torch
from torch import fx

from layerloom import engine


def arch(nodes: list, edges: list, name: str = "Two heads") -> engine.Architecture:
    return engine.from_dict({"format_version": 1, "name": name, "nodes": nodes, "edges": [
        dict(zip(("source", "target", "source_port", "target_port"), e)) for e in edges
    ]})


def node(node_id: str, layer_type: str, **params) -> dict:
    return {"id": node_id, "type": layer_type, "params": params}


TWO_HEADS = arch(
    [node("scores", "output"), node("image", "input", shape=[1, 6, 6]), node("extra", "input", shape=[3]),
     node("conv", "conv2d", out_channels=2), node("flat", "flatten"), node("join", "concat"),
     node("head", "linear", out_features=4), node("features", "output")],
    [("image", "conv"), ("conv", "flat"), ("flat", "join"), ("extra", "join"), ("join", "head"),
     ("head", "scores"), ("flat", "features")],
)


def test_result_is_a_graph_module_with_submodules_named_after_nodes():
    model = engine.compile_model(TWO_HEADS)
    assert isinstance(model, fx.GraphModule)
    assert dict(model.named_children()).keys() == {"conv", "flat", "join", "head"}
    assert type(model).__name__ == "Two_heads"


def test_code_is_readable():
    code = engine.compile_model(TWO_HEADS).code
    assert "def forward(self, image, extra):" in code
    assert "conv = self.conv(image)" in code
    assert "join = self.join(flat, extra)" in code
    assert "return (head, flat)" in code


def test_inputs_and_outputs_follow_document_order():
    model = engine.compile_model(TWO_HEADS)
    assert (model.input_names, model.output_names) == (["image", "extra"], ["scores", "features"])
    scores, features = model(torch.randn(5, 1, 6, 6), torch.randn(5, 3))
    assert scores.shape == (5, 4) and features.shape == (5, 32)


def test_a_single_output_is_returned_as_a_tensor():
    model = engine.compile_model(arch([node("x", "input", shape=[3]), node("y", "output")], [("x", "y")]))
    x = torch.randn(2, 3)
    assert model(x) is x


def test_recurrent_state_edges_carry_a_batch_first_state():
    model = engine.compile_model(arch(
        [node("src", "input", shape=[6, 2]), node("tgt", "input", shape=[4, 3]),
         node("enc", "lstm", hidden_size=5, num_layers=2), node("dec", "lstm", hidden_size=5, num_layers=2),
         node("y", "output"), node("enc_h", "output")],
        [("src", "enc"), ("tgt", "dec"), ("enc", "dec", "state", "state"), ("dec", "y"), ("enc", "enc_h")],
    ))
    src, tgt = torch.randn(7, 6, 2), torch.randn(7, 4, 3)
    y, enc_out = model(src, tgt)
    reference = torch.nn.LSTM(2, 5, num_layers=2, batch_first=True)
    reference.load_state_dict(model.enc.state_dict())
    _, (h, c) = reference(src)
    _, state = model.enc(src)
    torch.testing.assert_close(state[0], h.transpose(0, 1))
    torch.testing.assert_close(state[1], c.transpose(0, 1))
    assert y.shape == (7, 4, 5) and enc_out.shape == (7, 6, 5)


def test_many_to_one_output_joins_both_directions_of_the_top_layer():
    model = engine.compile_model(arch(
        [node("x", "input", shape=[6, 2]), node("rnn", "gru", hidden_size=3, num_layers=2, bidirectional=True,
                                                 return_sequences=False), node("y", "output")],
        [("x", "rnn"), ("rnn", "y")],
    ))
    x = torch.randn(4, 6, 2)
    out, state = model.rnn(x)
    torch.testing.assert_close(out, torch.cat([state[:, -2], state[:, -1]], dim=-1))
    assert model(x).shape == (4, 6)


def test_compile_refuses_an_invalid_document_with_every_problem():
    bad = arch([node("x", "input", shape=[6]), node("conv", "conv1d"), node("loose", "relu"), node("y", "output")],
               [("x", "conv"), ("conv", "y")])
    with pytest.raises(engine.DocumentError) as error:
        engine.compile_model(bad)
    assert {p.node for p in error.value.problems} == {"conv", "loose"}


def test_init_skips_the_default_initialization_but_keeps_results_deterministic():
    a = arch([node("x", "input", shape=[4]), node("fc", "linear", out_features=3, init="xavier_uniform"),
              node("y", "output")], [("x", "fc"), ("fc", "y")])
    torch.manual_seed(3)
    first = engine.compile_model(a).fc.weight.detach().clone()
    torch.manual_seed(3)
    assert torch.equal(engine.compile_model(a).fc.weight, first)
    assert engine.compile_model(a).fc.weight.device.type == "cpu"


CLASHING = arch(
    [node("input", "input", shape=[6, 3]), node("torch", "gru", hidden_size=3), node("torch_state", "relu"),
     node("sum", "add"), node("torch_outputs", "output"), node("state", "output")],
    [("input", "torch"), ("torch", "torch_state", "state", "in"), ("torch", "sum"), ("input", "sum"),
     ("sum", "torch_outputs"), ("torch_state", "state")],
)


def test_every_fx_name_comes_from_the_namespace_and_fx_renames_nothing():
    from layerloom.engine.compiler import to_fx_graph, value_names
    names = value_names(CLASHING)
    # legal ids keep their names; builtins and fx's globals get the first free suffix, after every id is served
    assert names == {("input", "out"): "input_2", ("torch", "out"): "torch_2", ("torch", "state"): "torch_state_2",
                     ("torch", "*"): "torch_outputs_2", ("torch_state", "out"): "torch_state",
                     ("sum", "out"): "sum_2", ("torch_outputs", "out"): "torch_outputs", ("state", "out"): "state"}
    graph = to_fx_graph(CLASHING, engine.check(CLASHING)[1])
    assert [n.name for n in graph.nodes] == [
        "input_2", "torch_outputs_2", "torch_2", "torch_state_2", "torch_state", "sum_2", "output"]
    code = engine.compile_model(CLASHING).code
    assert "def forward(self, input_2):" in code and "input_2 = input" not in code
    assert "sum_2 = self.sum(torch_2, input_2)" in code
    out, state = engine.compile_model(CLASHING)(torch.randn(4, 6, 3))
    assert out.shape == (4, 6, 3) and state.shape == (4, 1, 3)


def test_shapes_reach_the_fx_node_meta():
    from layerloom.engine.compiler import to_fx_graph
    problems, report = engine.check(CLASHING)
    graph = to_fx_graph(CLASHING, report)
    meta = {n.name: n.meta for n in graph.nodes}
    assert meta["input_2"]["shape"] == engine.TensorMeta((6, 3))
    gru = report.nodes["torch"].outputs
    assert meta["torch_outputs_2"]["shape"] == (gru["out"], gru["state"])
    assert meta["torch_2"]["shape"] == engine.TensorMeta((6, 3)) and meta["torch_2"]["port"] == "out"
    assert meta["sum_2"]["inputs"] == {"in": [engine.TensorMeta((6, 3)), engine.TensorMeta((6, 3))]}
    assert meta["sum_2"]["node"] is CLASHING.node("sum")
    assert [n.id for n in meta["output"]["nodes"]] == ["torch_outputs", "state"]
