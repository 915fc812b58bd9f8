"""`layerloom export --format torchscript|onnx`: files computing what the compiled model does, at any batch size."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch
from test_layers_contract import SAMPLES, tiny_graph

from layerloom import engine
from layerloom.engine.cli import main
from layerloom.engine.export import export, trained_model
from layerloom.engine.train.setup import random_inputs

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
ONNX_TOLERANCE = 1e-5

BILSTM_TAGGER = {"format_version": 1, "name": "BiLSTM tagger", "nodes": [
    {"id": "words", "type": "input", "params": {"shape": [12], "dtype": "int64"}},
    {"id": "embed", "type": "embedding", "params": {"num_embeddings": 50, "embedding_dim": 16}},
    {"id": "bilstm", "type": "lstm", "params": {"hidden_size": 24, "bidirectional": True}},
    {"id": "tag", "type": "linear", "params": {"out_features": 4}},
    {"id": "tags", "type": "output"},
], "edges": [{"source": "words", "target": "embed"}, {"source": "embed", "target": "bilstm"},
             {"source": "bilstm", "target": "tag"}, {"source": "tag", "target": "tags"}]}
# layers torch's legacy ONNX exporter cannot express: adaptive pooling to a size that does not divide the input,
# and a dilated 'same' convolution
AWKWARD = {"format_version": 1, "name": "Awkward", "nodes": [
    {"id": "signal", "type": "input", "params": {"shape": [3, 10]}},
    {"id": "conv", "type": "conv1d", "params": {"out_channels": 4, "padding": "same", "dilation": 2}},
    {"id": "pool", "type": "adaptive_avgpool1d", "params": {"output_size": 3}},
    {"id": "up", "type": "upsample", "params": {"scale_factor": 1.5, "mode": "linear"}},
    {"id": "norm", "type": "layernorm"},
    {"id": "out", "type": "output"},
], "edges": [{"source": a, "target": b} for a, b in [("signal", "conv"), ("conv", "pool"), ("pool", "up"),
                                                      ("up", "norm"), ("norm", "out")]]}


# blocks: a repeated residual block inside a stage block, its conv widths given by "$width"
RESIDUAL = {"params": {"width": 4}, "nodes": [
    {"id": "x", "type": "input"}, {"id": "conv", "type": "conv2d", "params": {"out_channels": "$width", "padding": 1}},
    {"id": "norm", "type": "batchnorm"}, {"id": "skip", "type": "add"}, {"id": "act", "type": "relu"},
    {"id": "y", "type": "output"}],
    "edges": [{"source": a, "target": b} for a, b in [("x", "conv"), ("conv", "norm"), ("norm", "skip"), ("x", "skip"),
                                                      ("skip", "act"), ("act", "y")]]}
BLOCKS = {"format_version": 2, "name": "Blocks", "blocks": {"residual": RESIDUAL, "stage": {
    "params": {"width": 4, "depth": 2}, "nodes": [
        {"id": "x", "type": "input"}, {"id": "widen", "type": "conv2d", "params": {"out_channels": "$width", "kernel_size": 1}},
        {"id": "body", "type": "residual", "params": {"width": "$width"}, "repeat": "$depth"}, {"id": "y", "type": "output"}],
    "edges": [{"source": "x", "target": "widen"}, {"source": "widen", "target": "body"}, {"source": "body", "target": "y"}]}},
    "nodes": [{"id": "image", "type": "input", "params": {"shape": [3, 6, 6]}}, {"id": "s1", "type": "stage"},
              {"id": "s2", "type": "stage", "params": {"width": 6, "depth": 3}}, {"id": "flat", "type": "flatten"},
              {"id": "scores", "type": "output"}],
    "edges": [{"source": a, "target": b} for a, b in [("image", "s1"), ("s1", "s2"), ("s2", "flat"), ("flat", "scores")]]}
# every attention layer: sinusoidal and learned positions, a causal pre-norm encoder layer, cross-attention from a
# second input with its weights as a second output
ATTENTION = {"format_version": 1, "name": "Attention", "nodes": [
    {"id": "tokens", "type": "input", "params": {"shape": [9], "dtype": "int64"}},
    {"id": "queries", "type": "input", "params": {"shape": [4, 16]}},
    {"id": "embed", "type": "embedding", "params": {"num_embeddings": 20, "embedding_dim": 16}},
    {"id": "fixed", "type": "positional_encoding"},
    {"id": "learned", "type": "positional_embedding", "params": {"max_length": 12}},
    {"id": "block", "type": "transformer_encoder_layer", "params": {"num_heads": 4, "dim_feedforward": 32,
                                                                    "norm_first": True, "causal": True}},
    {"id": "read", "type": "multihead_attention", "params": {"num_heads": 2}},
    {"id": "out", "type": "output"}, {"id": "weights", "type": "output"},
], "edges": [{"source": "tokens", "target": "embed"}, {"source": "embed", "target": "fixed"},
             {"source": "fixed", "target": "learned"}, {"source": "learned", "target": "block"},
             {"source": "queries", "target": "read", "target_port": "query"},
             {"source": "block", "target": "read", "target_port": "key_value"}, {"source": "read", "target": "out"},
             {"source": "read", "source_port": "weights", "target": "weights"}]}


def onnx_cases():
    cases = {name: engine.load(TEMPLATES / f"{name}.json") for name in ("mlp_spirals", "cnn_digits", "seq2seq_reverse")}
    cases["bilstm_tagger"] = engine.from_dict(BILSTM_TAGGER)
    cases["awkward_layers"] = engine.from_dict(AWKWARD)
    cases["blocks"] = engine.from_dict(BLOCKS)
    cases["attention_layers"] = engine.from_dict(ATTENTION)
    return cases


def test_the_onnx_cases_are_what_they_claim():
    seq2seq = onnx_cases()["seq2seq_reverse"]
    assert {n.type for n in seq2seq.nodes} >= {"gru"} and any(e.target_port == "state" for e in seq2seq.edges)
    tagger = onnx_cases()["bilstm_tagger"].node("bilstm")
    assert tagger.type == "lstm" and tagger.params.bidirectional


@pytest.mark.parametrize("name", sorted(onnx_cases()))
def test_onnxruntime_matches_torch_at_other_batch_sizes(name, tmp_path, capfd):
    arch = onnx_cases()[name]
    engine.save(arch, tmp_path / "model.json")
    code = main(["export", str(tmp_path / "model.json"), "--format", "onnx", "-o", str(tmp_path / "model.onnx")])
    out, err = capfd.readouterr()
    assert (code, err, len(out.splitlines())) == (0, "", 1)  # the exporter's own chatter is not shown
    assert sorted(os.listdir(tmp_path)) == ["model.json", "model.onnx"]  # the weights are inside, not beside
    model = trained_model(arch)
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"))
    assert [i.name for i in session.get_inputs()] == model.input_names
    assert [o.name for o in session.get_outputs()] == model.output_names
    assert all(isinstance(i.shape[0], str) for i in [*session.get_inputs(), *session.get_outputs()])
    for batch in (1, 7):
        inputs = random_inputs(arch, batch, torch.Generator().manual_seed(batch))
        got = session.run(None, {n: x.numpy() for n, x in zip(model.input_names, inputs)})
        with torch.no_grad():
            want = model(*inputs)
        for got_one, want_one in zip(got, want if isinstance(want, tuple) else (want,)):
            assert got_one.shape == tuple(want_one.shape)
            np.testing.assert_allclose(got_one, want_one.numpy(), atol=ONNX_TOLERANCE, rtol=0)


def _torchscript_cases():
    cases = [pytest.param(engine.load(p), id=p.stem) for p in sorted(TEMPLATES.glob("*.json")) if p.stem != "GALLERY"]
    cases += [pytest.param(tiny_graph(t, s), id=f"{t}-{i}") for t in sorted(SAMPLES) if t not in ("input", "output")
              for i, s in enumerate(SAMPLES[t])]
    return cases + [pytest.param(engine.from_dict(BLOCKS), id="blocks")]


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("arch", _torchscript_cases())
def test_torchscript_equals_the_compiled_model_at_another_batch_size(arch, tmp_path):
    path = export(arch, "torchscript", tmp_path / "model.ts").path
    loaded = torch.jit.load(str(path))
    model = trained_model(arch)
    inputs = random_inputs(arch, 5, torch.Generator().manual_seed(5))
    with torch.no_grad():
        got, want = loaded(*inputs), model(*inputs)
    for a, b in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_fresh_weights_come_from_the_training_seed_and_leave_the_global_generator_alone():
    arch = engine.load(TEMPLATES / "mlp_spirals.json")
    torch.manual_seed(123)
    before = torch.get_rng_state()
    model = trained_model(arch)
    assert torch.equal(torch.get_rng_state(), before)
    torch.manual_seed(arch.training.seed)
    expected = engine.compile_model(arch).state_dict()
    assert all(torch.equal(t, expected[k]) for k, t in model.state_dict().items())
    assert not model.training
