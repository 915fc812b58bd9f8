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
    module = getattr(models, name)()
    with torch.no_grad():  # running statistics away from (0, 1), so batch norm in eval mode is really tested
        for key, buffer in module.named_buffers():
            if buffer.is_floating_point():
                buffer.uniform_(0.5, 1.5) if key.endswith("var") else buffer.normal_()
    return module.eval()


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
    arch, weights = import_module(original, SUPPORTED[name])
    assert engine.check(arch)[0] == []
    assert set(arch.layout) == {n.id for n in arch.nodes}
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
    arch, _ = import_module(_original("CNN"), [(1, 16, 16)])
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
    arch, _ = import_module(_original("FunctionalCNN"), [(1, 24, 24)])
    nodes = {n.id: n for n in arch.nodes}
    assert [(i, nodes[i].type) for i in ("max_pool2d", "avg_pool2d", "view", "view_1", "flatten", "reshape")] == [
        ("max_pool2d", "maxpool2d"), ("avg_pool2d", "avgpool2d"), ("view", "flatten"), ("view_1", "reshape"),
        ("flatten", "flatten"), ("reshape", "flatten"),
    ]
    assert nodes["view_1"].params.shape == [4, 8]
    assert nodes["leaky_relu"].params.negative_slope == 0.2 and nodes["gelu"].params.approximate == "tanh"
    assert nodes["conv1"].params.padding == "same"


def test_recurrent_outputs_and_final_states_map_to_ports():
    arch, weights = import_module(_original("BiLSTMTagger"), [(9,)])
    lstm = arch.node("lstm")
    assert lstm.params.model_dump(include={"hidden_size", "num_layers", "bidirectional", "dropout"}) == {
        "hidden_size": 16, "num_layers": 2, "bidirectional": True, "dropout": 0.1}
    assert arch.node("tokens").params.dtype == "int64" and arch.node("embed").params.padding_idx == 0
    assert engine.Edge(source="lstm", target="tag") in arch.edges
    assert "lstm.weight_hh_l1_reverse" in weights
    arch, _ = import_module(_original("GRUClassifier"), [(7, 4)])
    assert [(e.source, e.target) for e in arch.edges if e.target in ("gru_last", "rnn_last", "cat")] == [
        ("gru", "gru_last"), ("rnn", "rnn_last"), ("gru_last", "cat"), ("rnn_last", "cat")]
    assert arch.node("rnn").params.nonlinearity == "relu" and arch.node("rnn").params.bidirectional


def test_input_shapes_are_inferred_from_linear_layers():
    arch, _ = import_module(_original("TwoInputs"))
    assert [(n.id, n.params.shape) for n in arch.nodes if n.type == "input"] == [("x", [6]), ("y", [3])]
    assert [n.id for n in arch.nodes if n.type == "output"] == ["output_0", "output_1"]


def test_ids_avoid_names_a_compiled_model_uses():
    arch, weights = import_module(_original("ReservedNames"))
    assert [n.id for n in arch.nodes] == ["x", "output_names_2", "output", "output_2"]
    assert sorted(weights) == ["output.bias", "output.weight", "output_names_2.bias", "output_names_2.weight"]


def test_a_missing_input_shape_is_asked_for():
    assert _failure_lines(_original("CNN")) == [
        "input 'x' needs its shape per sample, without the batch dimension (--input-shape, e.g. 1,28,28): "
        "only an input read by linear layers alone has one inferred"]
    assert _failure_lines(_original("TwoInputs"), [(6,)]) == [
        "the model has 2 input(s) (x, y) but 1 input shape(s) were given"]


def test_a_wrong_input_shape_is_caught_by_the_weights():
    assert _failure_lines(_original("MLP"), [(7,)]) == [
        "node 'layers_0': layers_0.weight is of shape (32, 20) in the module but of shape (32, 7) in the document: "
        "are the input shapes right?"]
    lines = _failure_lines(_original("CNN"), [(1, 4, 4)])
    assert len(lines) == 1 and lines[0].startswith("node 'conv2': ")


def test_every_unsupported_part_is_listed_with_its_reason():
    assert _failure_lines(models.Unsupported(), [(4, 10)]) == [
        "conv (self.conv, torch.nn.Conv1d): padding_mode='reflect': LayerLoom convolutions pad with zeros",
        "sin (torch.sin): no LayerLoom layer for this function",
        "transpose (Tensor.transpose): no LayerLoom layer for this tensor method",
        "lstm (self.lstm, torch.nn.LSTM): batch_first=False: LayerLoom's recurrent layers are batch-first (N, T, F)",
        "prelu (self.prelu, torch.nn.PReLU): no LayerLoom layer for this module",
        "swish (import_models.swish): no LayerLoom layer for this function",
        "mul (operator.mul): no LayerLoom layer for this function",
        "fc_1 (self.fc, torch.nn.Linear): called more than once: LayerLoom layers do not share weights",
        "scale (self.scale): a parameter or buffer used directly in forward: only layers' own weights can be imported",
    ]


def test_calls_that_would_change_meaning_are_refused():
    assert _failure_lines(models.Misfits(), [(16,)]) == [
        "relu (self.relu, torch.nn.ReLU): works in place on a tensor that is used again: "
        "LayerLoom layers never change their input",
        "getitem_2 (operator.getitem): a final state is (layers * directions, N, H): only h[-1] of a one-way layer, "
        "its output's last step, can be imported",
        "add_1 (operator.add): input 2 is the constant 1, not a tensor of the model",
        "soft (self.soft, torch.nn.Softmax): dim 0 is the batch dimension",
        "flatten (torch.flatten): start_dim 0 is the batch dimension",
        "dropout (torch.nn.functional.dropout): functional dropout has its training flag fixed when traced: "
        "use nn.Dropout",
    ]
    assert _failure_lines(models.MixesSamples()) == [
        "view (Tensor.view): changes the batch dimension: a sample has 16 values, not 8; use x.view(x.size(0), ...)"]


REFUSED = {
    "ceil mode": (nn.MaxPool2d(2, ceil_mode=True), "ceil_mode=True is not supported"),
    "pool dilation": (nn.MaxPool1d(2, dilation=2), "dilation=2: LayerLoom's pooling has no dilation"),
    "exclusive average": (nn.AvgPool2d(2, count_include_pad=False), "count_include_pad=False is not supported"),
    "adaptive None": (nn.AdaptiveAvgPool2d((None, 2)),
                      "output_size=(None, 2): a size of None (keep the input's) is not supported"),
    "recurrent bias": (nn.GRU(4, 4, bias=False, batch_first=True),
                       "bias=False is not supported: LayerLoom's recurrent layers have biases"),
    "projected LSTM": (nn.LSTM(4, 4, proj_size=2, batch_first=True), "proj_size (a projected LSTM) is not supported"),
    "layer norm bias": (nn.LayerNorm(4, bias=False), "bias=False is not supported"),
    "max norm": (nn.Embedding(5, 3, max_norm=1.0), "max_norm (renormalizing looked-up vectors) is not supported"),
    "implicit softmax": (nn.Softmax(), "dim=None (an implicit dimension) is not supported: give dim"),
    "cumulative batch norm": (nn.BatchNorm1d(4, momentum=None),
                              "momentum=None (a cumulative average) is not supported"),
    "fixed upsample size": (nn.Upsample(size=8), "a fixed output size is not supported: use scale_factor"),
    "unknown class": (nn.Conv3d(1, 1, 1), "no LayerLoom layer for this module"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_unsupported_arguments_are_refused_with_the_reason(case):
    layer, reason = REFUSED[case]
    assert _failure_lines(nn.Sequential(layer), [(4,)]) == [
        f"_0 (self.0, torch.nn.{type(layer).__name__}): {reason}"]


def test_shared_and_tied_weights_are_refused():
    assert _failure_lines(models.TiedWeights(), [(5,)]) == [
        "mix_1 (self.mix, torch.nn.Linear): called more than once: LayerLoom layers do not share weights",
        "decode (self.decode, torch.nn.Linear): shares a weight with self.embed (tied weights)",
    ]


def test_an_untraceable_model_names_its_class_and_torchs_reason():
    assert _failure_lines(models.DataDependent()) == [
        "cannot trace DataDependent with torch.fx: TraceError: "
        "symbolically traced variables cannot be used as inputs to control flow"]


def test_float64_weights_are_refused():
    lines = _failure_lines(models.MLP().double())
    assert lines[0] == "layers_0 (self.layers.0, torch.nn.Linear): weights are float64; LayerLoom models are float32"
    assert len(lines) == 3
