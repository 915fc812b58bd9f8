"""Issue 16's coverage list, one construct per test: each model imports, compiles, loads the original's weights and
computes what the original computes in training and eval mode (checked here, apart from the importer's own check);
three of them export to ONNX and run in onnxruntime."""
from __future__ import annotations

import numpy as np
import onnxruntime
import pytest
import torch

import coverage_models as models
from import_models import with_statistics
from layerloom import engine
from layerloom.engine.inline import flatten
from layerloom.engine.export import export
from layerloom.engine.fximport import ImportFailure, import_module


def _imported(name: str, shapes):
    torch.manual_seed(0)
    original = with_statistics(getattr(models, name)())
    imported = import_module(original, shapes)
    assert imported.difference == {"eval": 0.0, "train": 0.0}
    assert imported.unused == []
    model = engine.compile_model(imported.document)
    model.load_state_dict(imported.weights)
    return original, imported.document, model


def _inputs(arch: engine.Architecture, batch: int = 4, high: int = 10) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(7)
    return [torch.randint(0, high, (batch, *n.params.shape), generator=generator) if n.params.dtype == "int64"
            else torch.randn((batch, *n.params.shape), generator=generator) for n in arch.nodes if n.type == "input"]


def _both_modes(original, model, inputs, originals=None, relayout=lambda outputs: outputs):
    """The same outputs in eval and in training mode from the same random state (training mode twice, so that
    batch norm's running statistics are updated alike and used in the next eval)."""
    for mode in ("eval", "train", "train", "eval"):
        results = []
        for net, args in ((original, originals or inputs), (model, inputs)):
            net.train(mode == "train")
            torch.manual_seed(3)
            with torch.no_grad():
                out = net(*args)
            results.append(out if isinstance(out, tuple) else (out,))
        for want, got in zip(relayout(results[0]), results[1]):
            torch.testing.assert_close(got, want, rtol=0, atol=1e-6, msg=f"{mode} mode")


CNNS = {  # construct -> model and per-sample input shape
    "sizes read in forward, chunk, transpose, mean (ShuffleNet)": ("ShuffleBlock", (8, 5, 5)),
    "broadcast multiply, hardswish, hardsigmoid (squeeze-excitation)": ("SENet", (3, 12, 12)),
    "ceil-mode max pooling (SqueezeNet)": ("Fire", (3, 13, 13)),
    "relu6, silu, hardswish, hardsigmoid as modules and functions (inverted residual)": ("InvertedResidual", (6, 5, 5)),
    "permute, functional layer norm, a parameter in forward, stochastic depth (ConvNeXt)": ("CNBlock", (8, 6, 6)),
    "class token (expand), positional table, functional dropout, x[:, 0] (ViT without attention)": ("TokenMixer",
                                                                                                      (3, 8, 8)),
    "torch.cat of one tensor, y + y, torch.cat((y, y)) (DenseNet)": ("DenseBlock", (2, 5, 5)),
}


@pytest.mark.parametrize("construct", CNNS)
def test_construct_imports_and_computes_what_the_original_computes(construct):
    name, shape = CNNS[construct]
    original, arch, model = _imported(name, [shape])
    _both_modes(original, model, _inputs(arch))


def test_layers_of_the_constructs_are_the_expected_ones():
    types = {name: [n.type for n in flatten(_imported(name, [shape])[1]).nodes] for name, shape in CNNS.values()}
    assert {"slice", "permute", "reshape", "mean"} <= set(types["ShuffleBlock"])
    assert types["SENet"].count("multiply") == 1 and "hardsigmoid" in types["SENet"]
    assert "parameter" in types["CNBlock"] and "stochastic_depth" in types["CNBlock"]
    assert types["TokenMixer"].count("parameter") == 2 and "select" in types["TokenMixer"]
    assert types["DenseBlock"].count("concat") == 4 and types["DenseBlock"].count("add") == 1


def test_fire_keeps_ceil_mode():
    _, arch, _ = _imported("Fire", [(3, 13, 13)])
    assert arch.node("pool").params.ceil_mode is True


def test_a_one_hot_language_model_in_time_major_layout_becomes_batch_first():
    original, arch, model = _imported("RNNLM", [(7,)])
    assert [n.type for n in arch.nodes] == ["input", "one_hot", "rnn", "linear", "output"]
    assert arch.node("x").params.model_dump() == {"shape": [7], "dtype": "int64"}
    _both_modes(original, model, _inputs(arch, high=12))


def test_an_initial_state_argument_and_a_returned_state_are_the_state_ports(monkeypatch):
    original, arch, model = _imported("WordLM", [(9,), (2, 12)])
    # Dropout draws its mask in memory order, which differs between (T, N, F) and (N, T, F): here it keeps each
    # element by its value, so that both drop the same elements.
    monkeypatch.setattr(torch.nn.functional, "dropout", lambda x, p=0.5, training=True, inplace=False:
                        x * (torch.cos(x * 7919.0) > 2 * p - 1) / (1 - p) if training else x)
    assert [(e.source, e.source_port, e.target, e.target_port) for e in arch.edges if "state" in
            (e.source_port, e.target_port)] == [("hidden", "out", "rnn", "state"), ("rnn", "state", "output_1", "in")]
    tokens, hidden = _inputs(arch, high=20)

    def relayout(outputs):  # (T * N, V) step-major rows and (layers, N, H): the document's (N, T, V), (N, L, H)
        scores, state = outputs
        return scores.view(9, 4, 20).transpose(0, 1), state.transpose(0, 1)
    _both_modes(original, model, [tokens, hidden], [tokens.T, hidden.transpose(0, 1)], relayout)


def test_an_encoder_decoder_passes_the_lstm_state_pair():
    original, arch, model = _imported("Seq2Seq", [(5,), (6,)])
    assert engine.Edge(source="enc", source_port="state", target="dec", target_port="state") in arch.edges
    source, target = _inputs(arch)
    _both_modes(original, model, [source, target], [source, target])


def test_every_blocker_is_listed_with_its_line_and_attributes_by_name():
    with pytest.raises(ImportFailure) as caught:
        import_module(models.Blockers())
    assert caught.value.lines == [
        "sin (torch.sin) at coverage_models.py:257: no LayerLoom layer for this function",
        "getattr_1 (Tensor.T) at coverage_models.py:258: x.T of a tensor of more than two dimensions reverses them "
        "all, the batch's too",
        "prelu (self.prelu, torch.nn.PReLU) at coverage_models.py:258: no LayerLoom layer for this module",
        "cumsum (torch.cumsum) at coverage_models.py:259: no LayerLoom layer for this function",
        "mul (operator.mul) at coverage_models.py:259: input 2 is the constant 2, not a tensor of the model",
    ]


ONNX = {  # newly importable models exported to ONNX: model, input shapes, how the original's output is laid out
    "squeeze-excitation": ("SENet", [(3, 12, 12)]),
    "ceil-mode pooling": ("Fire", [(3, 13, 13)]),
    "recurrent": ("RNNLM", [(7,)]),
}


@pytest.mark.parametrize("case", ONNX)
def test_an_imported_model_exported_to_onnx_computes_what_the_original_computes(case, tmp_path):
    name, shapes = ONNX[case]
    original, arch, model = _imported(name, shapes)
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    path = export(arch, "onnx", tmp_path / "model.onnx", weights=tmp_path / "weights.pt").path
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = _inputs(arch, batch=5, high=12)
    got = session.run(None, {n.id: x.numpy() for n, x in zip([n for n in arch.nodes if n.type == "input"], inputs)})
    with torch.no_grad():
        want = original.eval()(*inputs)
    np.testing.assert_allclose(got[0], want.numpy(), atol=1e-5, rtol=0)
