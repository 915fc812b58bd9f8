"""Shape inference: torch computes the shapes; every problem names its node and the shapes involved."""
from __future__ import annotations

import logging
import resource

import pytest
import torch

from layerloom import engine
from layerloom.engine import TensorMeta
from layerloom.engine.shapes import format_meta


def arch(nodes: list, edges: list) -> engine.Architecture:
    return engine.from_dict({"format_version": 1, "nodes": nodes, "edges": [
        dict(zip(("source", "target", "source_port", "target_port"), e)) for e in edges
    ]})


def node(node_id: str, layer_type: str, **params) -> dict:
    return {"id": node_id, "type": layer_type, "params": params}


def chain(input_params: dict, *layers: dict) -> engine.Architecture:
    nodes = [node("x", "input", **input_params), *layers, node("y", "output")]
    ids = [n["id"] for n in nodes]
    return arch(nodes, list(zip(ids, ids[1:])))


def problem_texts(a: engine.Architecture) -> list[str]:
    return [str(p) for p in engine.check(a)[0]]


def test_shapes_exclude_the_batch_and_sequences_are_batch_first():
    report = engine.infer_shapes(chain({"shape": [7, 3]}, node("rnn", "gru", hidden_size=5, bidirectional=True)))
    assert report.nodes["rnn"].outputs == {"out": TensorMeta((7, 10)), "state": TensorMeta((2, 5))}
    assert report.nodes["y"].shape == TensorMeta((7, 10))
    assert report.nodes["rnn"].params == 2 * 3 * (3 * 5 + 5 * 5 + 2 * 5)


def test_received_sizes_are_inferred():
    report = engine.infer_shapes(chain({"shape": [3, 8, 8]}, node("conv", "conv2d", out_channels=4, kernel_size=3)))
    assert report.nodes["conv"].shape == TensorMeta((4, 6, 6))
    assert report.nodes["conv"].params == 4 * 3 * 9 + 4


def test_add_of_mismatched_shapes_names_node_and_shapes():
    a = arch([node("x", "input", shape=[16]), node("fc", "linear", out_features=32), node("merge", "add"),
              node("y", "output")], [("x", "fc"), ("x", "merge"), ("fc", "merge"), ("merge", "y")])
    assert problem_texts(a) == ["node 'merge': inputs have shapes (16,) and (32,); add needs them all the same"]


def test_concat_of_mismatched_shapes_names_node_and_shapes():
    a = arch([node("a", "input", shape=[4, 6]), node("b", "input", shape=[5, 7]), node("merge", "concat"),
              node("y", "output")], [("a", "merge"), ("b", "merge"), ("merge", "y")])
    assert problem_texts(a) == [
        "node 'merge': inputs have shapes (4, 6) and (5, 7); concat along dim -1 needs every other size equal"]


def test_torch_shape_errors_name_node_and_input_shape():
    [text] = problem_texts(chain({"shape": [1, 2, 2]}, node("conv", "conv2d", kernel_size=5)))
    assert text.startswith("node 'conv': ") and text.endswith("(input shape (1, 2, 2))")
    assert "Kernel size can't be greater than actual input size" in text


def test_torch_shape_errors_leave_no_log_noise(caplog):
    with caplog.at_level(logging.DEBUG):
        problem_texts(chain({"shape": [1, 3]}, node("pool", "maxpool1d", kernel_size=7)))
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_only_the_first_failing_node_is_reported():
    a = chain({"shape": [6]}, node("conv", "conv1d"), node("fc", "linear"), node("act", "relu"))
    assert problem_texts(a) == ["node 'conv': expects input of shape (channels, length), got (6,)"]


@pytest.mark.parametrize("layers, expected", [
    ([node("emb", "embedding")], "node 'emb': expects int64 input, got float32 (set the input's dtype to int64)"),
    ([node("soft", "softmax", dim=3)], "node 'soft': dim 3 is out of range for input shape (6,); use 1 or -1"),
    ([node("soft", "softmax", dim=0)], "node 'soft': dim 0 is the batch dimension; use 1 or -1"),
    ([node("flat", "flatten", start_dim=0)], "node 'flat': dim 0 is the batch dimension; use 1 or -1"),
    ([node("shape", "reshape", shape=[4, -1])], "node 'shape': cannot reshape (6,) (6 values per sample) to [4, -1]"),
    ([node("seq", "repeat", steps=3), node("up", "upsample", scale_factor=0.1)],
     "node 'up': scale_factor 0.1 shrinks (3, 6) to nothing"),
])
def test_layer_problems_are_clean_and_named(layers, expected):
    assert problem_texts(chain({"shape": [6]}, *layers)) == [expected]


def test_int64_ids_into_a_float_layer():
    assert problem_texts(chain({"shape": [6], "dtype": "int64"}, node("fc", "linear"))) == [
        "node 'fc': expects float32 input, got int64 (token ids go into an embedding)"]


def test_transposed_conv_output_padding_is_checked_as_torch_checks_it_when_running():
    a = chain({"shape": [2, 4, 4]}, node("up", "conv_transpose2d", output_padding=3))
    assert problem_texts(a) == ["node 'up': output_padding 3 must be smaller than the stride or the dilation"]


def test_lstm_state_into_an_output_is_refused():
    a = arch([node("x", "input", shape=[5, 3]), node("enc", "lstm", hidden_size=4), node("y", "output")],
             [("x", "enc"), ("enc", "y", "state", "in")])
    assert problem_texts(a) == ["node 'y': receives an LSTM state (h, c), not one tensor: connect the LSTM's 'out' port instead"]


def test_lstm_state_into_a_tensor_port_is_refused():
    a = arch([node("x", "input", shape=[5, 3]), node("enc", "lstm", hidden_size=4), node("fc", "linear"),
              node("y", "output")], [("x", "enc"), ("enc", "fc", "state", "in"), ("fc", "y")])
    assert problem_texts(a) == ["node 'fc': port 'in' receives an LSTM state (h, c); only a recurrent layer's 'state' port takes it"]


def test_gru_state_into_an_output_is_a_tensor():
    a = arch([node("x", "input", shape=[5, 3]), node("enc", "gru", hidden_size=4, num_layers=2), node("y", "output")],
             [("x", "enc"), ("enc", "y", "state", "in")])
    assert engine.check(a)[1].nodes["y"].shape == TensorMeta((2, 4))


def test_mismatched_state_names_both_shapes():
    a = arch([node("x", "input", shape=[5, 3]), node("enc", "gru", hidden_size=4), node("dec", "lstm", hidden_size=4),
              node("y", "output")], [("x", "enc"), ("x", "dec"), ("enc", "dec", "state", "state"), ("dec", "y")])
    assert problem_texts(a) == ["node 'dec': state input is of shape (1, 4) but this layer's state is (h, c) of shape (1, 4)"]


def test_architecture_over_the_parameter_limit_is_refused_before_allocating():
    big = chain({"shape": [60_000]}, node("fc", "linear", out_features=60_000))  # 3.6e9 parameters: 14 GB
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    [text] = problem_texts(big)
    assert text == "node 'fc': the model would have over 3,600,060,000 parameters, above the limit of 2,000,000,000"
    with pytest.raises(engine.DocumentError):
        engine.compile_model(big)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 500_000  # KiB


def test_parameter_limit_is_adjustable():
    report = engine.infer_shapes(chain({"shape": [10]}, node("fc", "linear", out_features=10)), max_params=100)
    [problem] = report.problems
    assert problem.node == "fc" and "above the limit of 100" in problem.message


def test_absurd_sample_sizes_are_refused():
    [text] = problem_texts(chain({"shape": [2**31 - 1, 2**31 - 1]}, node("act", "relu")))
    assert text.startswith("node 'x': one sample would hold 4,611,686,014,132,420,609 values")


def test_inferred_shapes_are_cached_per_type_params_and_input():
    a = chain({"shape": [6]}, node("fc", "linear", out_features=3))
    first = engine.infer_shapes(a).nodes["fc"]
    assert engine.infer_shapes(a).nodes["fc"] is first


def test_format_meta():
    assert format_meta(TensorMeta((16,))) == "(16,)"
    assert format_meta(TensorMeta((3, 8, 8))) == "(3, 8, 8)"
    assert format_meta((TensorMeta((1, 64)), TensorMeta((1, 64)))) == "(h (1, 64), c (1, 64))"


def test_inference_leaves_no_meta_device_behind():
    engine.infer_shapes(chain({"shape": [6]}, node("fc", "linear")))
    assert torch.empty(1).device.type == "cpu"
