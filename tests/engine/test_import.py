"""Importing torch modules: each supported model compiles and computes what the original computes with its
weights; everything without a faithful LayerLoom layer is listed by name with the reason."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from layerloom import engine
import import_models as models
from layerloom.engine.fximport import ImportFailure, import_module

# model -> per-sample input shapes (None: inferred from the linear layers reading each input)
SUPPORTED = {
    "MLP": None,
    "CNN": [(1, 16, 16)],
    "FunctionalCNN": [(1, 24, 24)],
    "SequenceCNN": [(3, 32)],
    "ResidualMLP": None,
    "BiLSTMTagger": [(9,)],
    "GRUClassifier": [(7, 4)],
    "LSTMLastState": [(5, 3)],
    "TwoInputs": None,
    "ReservedNames": None,
    "MixedOps": [(2, 5, 5)],
}


def _original(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return models.with_statistics(getattr(models, name)()).eval()


def _sample_inputs(arch: engine.Architecture, batch: int = 5) -> list[torch.Tensor]:
    inputs = [n for n in arch.nodes if n.type == "input"]
    return [torch.randint(0, 30, (batch, *n.params.shape)) if n.params.dtype == "int64"
            else torch.randn(batch, *n.params.shape) for n in inputs]


def _failure_lines(module: torch.nn.Module, shapes=None) -> list[str]:
    with pytest.raises(ImportFailure) as caught:
        import_module(module, shapes)
    return caught.value.lines


@pytest.mark.parametrize("name", SUPPORTED)
def test_imported_model_computes_what_the_original_computes(name):
    original = _original(name)
    arch, weights, _, _ = import_module(original, SUPPORTED[name])
    assert engine.check(arch)[0] == []
    assert set(arch.layout.nodes) == {n.id for n in arch.nodes}
    assert engine.loads(engine.dumps(arch)) == arch
    model = engine.compile_model(arch)
    model.load_state_dict(weights)
    model.eval()
    inputs = _sample_inputs(arch)
    with torch.no_grad():
        want, got = original(*inputs), model(*inputs)
    want, got = (want, got) if isinstance(want, tuple) else ((want,), (got,))
    assert len(want) == len(got)
    for a, b in zip(want, got):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-6)


def test_every_constructor_argument_becomes_a_param():
    arch = import_module(_original("CNN"), [(1, 16, 16)]).document
    params = {n.id: n.params.model_dump(exclude_defaults=True) for n in arch.nodes}
    assert params["conv1"] == {"out_channels": 8, "padding": 1, "bias": False}
    assert params["bn1"] == {"eps": 1e-3, "momentum": 0.05}
    assert params["conv2"] == {
        "out_channels": 12, "kernel_size": (3, 2), "stride": (2, 1), "dilation": (1, 2), "groups": 4}
    assert params["avg"] == {"stride": 1, "padding": 1}
    assert params["gap"] == {"output_size": (2, 3)}
    assert params["out"] == {"dim": 1}
    assert [n.type for n in arch.nodes] == [
        "input", "conv2d", "batchnorm", "relu", "maxpool2d", "conv2d", "relu", "avgpool2d", "adaptive_avgpool2d",
        "flatten", "linear", "log_softmax", "output",
    ]


def test_functional_calls_and_views_map_to_layers():
    arch = import_module(_original("FunctionalCNN"), [(1, 24, 24)]).document
    nodes = {n.id: n for n in arch.nodes}
    assert [(i, nodes[i].type) for i in ("max_pool2d", "avg_pool2d", "view", "view_1", "flatten", "reshape")] == [
        ("max_pool2d", "maxpool2d"), ("avg_pool2d", "avgpool2d"), ("view", "flatten"), ("view_1", "reshape"),
        ("flatten", "flatten"), ("reshape", "flatten"),
    ]
    assert nodes["view_1"].params.shape == [4, 8]
    assert nodes["leaky_relu"].params.negative_slope == 0.2 and nodes["gelu"].params.approximate == "tanh"
    assert nodes["conv1"].params.padding == "same"


def test_recurrent_outputs_and_final_states_map_to_ports():
    arch, weights, _, _ = import_module(_original("BiLSTMTagger"), [(9,)])
    lstm = arch.node("lstm")
    assert lstm.params.model_dump(include={"hidden_size", "num_layers", "bidirectional", "dropout"}) == {
        "hidden_size": 16, "num_layers": 2, "bidirectional": True, "dropout": 0.1}
    assert arch.node("tokens").params.dtype == "int64" and arch.node("embed").params.padding_idx == 0
    assert engine.Edge(source="lstm", target="tag") in arch.edges
    assert "lstm.weight_hh_l1_reverse" in weights
    arch = import_module(_original("GRUClassifier"), [(7, 4)]).document
    assert [(e.source, e.target) for e in arch.edges if e.target in ("gru_last", "rnn_last", "cat")] == [
        ("gru", "gru_last"), ("rnn", "rnn_last"), ("gru_last", "cat"), ("rnn_last", "cat")]
    assert arch.node("rnn").params.nonlinearity == "relu" and arch.node("rnn").params.bidirectional


def test_input_shapes_are_inferred_from_linear_layers():
    arch = import_module(_original("TwoInputs")).document
    assert [(n.id, n.params.shape) for n in arch.nodes if n.type == "input"] == [("x", [6]), ("y", [3])]
    assert [n.id for n in arch.nodes if n.type == "output"] == ["output_0", "output_1"]


def test_ids_avoid_names_a_compiled_model_uses():
    arch, weights, _, _ = import_module(_original("ReservedNames"))
    assert [n.id for n in arch.nodes] == ["x", "output_names_2", "output", "output_2"]
    assert sorted(weights) == ["output.bias", "output.weight", "output_names_2.bias", "output_names_2.weight"]


def test_a_missing_input_shape_is_asked_for():
    assert _failure_lines(_original("CNN")) == [
        "input 'x' needs its shape per sample, without the batch dimension (--input-shape, e.g. 1,28,28): "
        "only an input read by linear layers alone has one inferred"]
    assert _failure_lines(_original("TwoInputs"), [(6,)]) == [
        "the model has 2 input(s) (x, y) but 1 input shape(s) were given"]


def test_a_wrong_input_shape_is_named_with_the_layer_that_fails_on_it():
    assert _failure_lines(_original("MLP"), [(7,)]) == [
        "layers_0 (self.layers.0, torch.nn.Linear) at import_models.py:18: running the model on inputs x (N, 7) "
        "failed: RuntimeError: mat1 and mat2 shapes cannot be multiplied (2x7 and 20x32): are the input shapes right?"]
    lines = _failure_lines(_original("CNN"), [(1, 4, 4)])
    assert len(lines) == 1 and lines[0].startswith("conv2 (self.conv2, torch.nn.Conv2d) at import_models.py:39: ")


def test_every_unsupported_part_is_listed_with_its_reason():
    assert _failure_lines(models.Unsupported(), [(4, 10)]) == [
        "conv (self.conv, torch.nn.Conv1d) at import_models.py:192: padding_mode='reflect': LayerLoom convolutions pad with zeros",
        "sin (torch.sin) at import_models.py:192: no LayerLoom layer for this function",
        "lstm (self.lstm, torch.nn.LSTM) at import_models.py:193: batch_first=False reads dimension 1 as the batch, "
        "but the batch is in dimension 0 here",
        "prelu (self.prelu, torch.nn.PReLU) at import_models.py:194: no LayerLoom layer for this module",
        "swish (import_models.swish) at import_models.py:194: no LayerLoom layer for this function",
        "mul (operator.mul) at import_models.py:195: input 2 is the constant 2, not a tensor of the model",
        "fc_1 (self.fc, torch.nn.Linear) at import_models.py:195: called more than once: LayerLoom layers do not share weights",
    ]


def test_calls_that_would_change_meaning_are_refused():
    assert _failure_lines(models.Misfits(), [(16,)]) == [
        "relu (self.relu, torch.nn.ReLU) at import_models.py:236: works in place on a tensor that add reads afterwards: "
        "LayerLoom layers never change their input",
        "add_1 (operator.add) at import_models.py:238: input 2 is the constant 1, not a tensor of the model",
        "soft (self.soft, torch.nn.Softmax) at import_models.py:238: dim 0 is the batch dimension",
        "flatten (torch.flatten) at import_models.py:238: start_dim 0 is the batch dimension",
    ]
    assert _failure_lines(models.MixesSamples()) == [
        "view (Tensor.view) at import_models.py:249: changes the batch dimension: a sample has 16 values, not 8; use x.view(x.size(0), ...)"]


REFUSED = {  # a module, the sample shape it takes, and why it is refused
    "pool dilation": (nn.MaxPool1d(2, dilation=2), (2, 8), "dilation=2: LayerLoom's pooling has no dilation"),
    "exclusive average": (nn.AvgPool2d(2, padding=1, count_include_pad=False), (1, 4, 4),
                          "count_include_pad=False is not supported"),
    "adaptive None": (nn.AdaptiveAvgPool2d((None, 2)), (1, 4, 4),
                      "output_size=(None, 2): a size of None (keep the input's) is not supported"),
    "recurrent bias": (nn.GRU(4, 4, bias=False, batch_first=True), (3, 4),
                       "bias=False is not supported: LayerLoom's recurrent layers have biases"),
    "projected LSTM": (nn.LSTM(4, 4, proj_size=2, batch_first=True), (3, 4),
                       "proj_size (a projected LSTM) is not supported"),
    "layer norm bias": (nn.LayerNorm(4, bias=False), (4,), "bias=False is not supported"),
    "max norm": (nn.Embedding(5, 3, max_norm=1.0), (4,), "max_norm (renormalizing looked-up vectors) is not supported"),
    "implicit softmax": (nn.Softmax(), (4,), "dim=None (an implicit dimension) is not supported: give dim"),
    "cumulative batch norm": (nn.BatchNorm1d(4, momentum=None), (4,),
                              "momentum=None (a cumulative average) is not supported"),
    "fixed upsample size": (nn.Upsample(size=8), (1, 4, 4), "a fixed output size is not supported: use scale_factor"),
    "unknown class": (nn.Conv3d(1, 1, 1), (1, 2, 2, 2), "no LayerLoom layer for this module"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_unsupported_arguments_are_refused_with_the_reason(case):
    layer, shape, reason = REFUSED[case]
    assert _failure_lines(nn.Sequential(layer), [shape]) == [
        f"_0 (self.0, torch.nn.{type(layer).__name__}): {reason}"]


def test_shared_and_tied_weights_are_refused():
    assert _failure_lines(models.TiedWeights(), [(5,)]) == [
        "mix_1 (self.mix, torch.nn.Linear) at import_models.py:220: called more than once: LayerLoom layers do not share weights",
        "decode (self.decode, torch.nn.Linear) at import_models.py:220: shares a weight with self.embed (tied weights)",
    ]


def test_an_untraceable_model_names_its_class_and_torchs_reason():
    assert _failure_lines(models.DataDependent()) == [
        "cannot trace DataDependent with torch.fx: TraceError: "
        "symbolically traced variables cannot be used as inputs to control flow"]


def test_float64_weights_are_refused():
    lines = _failure_lines(models.MLP().double())
    assert lines[0] == "layers_0 (self.layers.0, torch.nn.Linear) at import_models.py:18: weights are float64; LayerLoom models are float32"
    assert len(lines) == 3


def test_in_place_calls_on_memory_read_again_are_refused_by_name():
    assert _failure_lines(models.ViewAlias()) == [
        "relu (torch.nn.functional.relu) at import_models.py:273: works in place on memory it shares with fc, which "
        "cat reads afterwards: LayerLoom layers never change their input"]
    assert _failure_lines(models.IdentityAlias()) == [
        "relu (self.relu, torch.nn.ReLU) at import_models.py:285: works in place on memory it shares with fc, which "
        "add reads afterwards: LayerLoom layers never change their input"]


def test_an_in_place_call_whose_result_is_unused_still_counts():
    assert _failure_lines(models.InPlaceOnly()) == [
        "relu_ (Tensor.relu_) at import_models.py:297: works in place on a tensor that output reads afterwards: "
        "LayerLoom layers never change their input"]


def test_code_that_runs_in_one_mode_only_is_refused():
    assert _failure_lines(models.EvalOnlySoftmax()) == [
        "softmax (torch.softmax) at import_models.py:311: forward computes differently in training and eval mode "
        "here (it reads self.training): LayerLoom layers differ between the modes only as dropout and batch norm do"]


def test_parameters_forward_never_uses_are_reported():
    imported = import_module(models.UnusedLayer())
    assert sorted(imported.weights) == ["fc.bias", "fc.weight"]
    assert imported.unused == [
        "self.unused (torch.nn.Linear): 5,000 parameter values that forward never uses are left out"]


def test_a_document_that_computes_something_else_is_refused_with_the_first_node_that_differs(monkeypatch):
    """The last safety net: a converter that maps a module to the wrong layer is caught by running both."""
    from layerloom.engine.fximport import mapping
    monkeypatch.setitem(mapping.MODULES, nn.Tanh, lambda m: mapping.Layer("sigmoid"))
    lines = _failure_lines(_original("MLP"))
    assert [line.split(" by ")[0] for line in lines] == [
        "in eval mode the document's output 'output' differs from the original's",
        "in train mode the document's output 'output' differs from the original's"]
    assert all(line.endswith("the first node that differs is layers_4 (self.layers.4, torch.nn.Tanh) "
                             "at import_models.py:18") for line in lines)
