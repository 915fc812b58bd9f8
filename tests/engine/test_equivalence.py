"""Compiled documents compute exactly what hand-written torch modules compute, given the same weights.

The hand-written twins are written as a torch user would, with the same torch modules (bench/engine_bench.py
times them against the compiled models, so the ratio measures the fx graph and LayerLoom's own wrappers).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pytest
import torch
from torch import nn

from layerloom import engine


def _doc(nodes: list, edges: list) -> dict:
    return {"format_version": 1, "nodes": nodes, "edges": [
        dict(zip(("source", "target", "source_port", "target_port"), e)) for e in edges
    ]}


def _chain(*ids: str) -> list:
    return list(zip(ids, ids[1:]))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(20, 64), nn.Linear(64, 64), nn.Linear(64, 5)
        self.act1, self.act2 = nn.ReLU(), nn.Tanh()

    def forward(self, x):
        return self.fc3(self.act2(self.fc2(self.act1(self.fc1(x)))))


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.conv2, self.fc = nn.Conv2d(8, 16, 3), nn.Linear(64, 10)
        self.relu1, self.pool1, self.relu2 = nn.ReLU(), nn.MaxPool2d(2), nn.ReLU()
        self.gap, self.flat = nn.AdaptiveAvgPool2d(2), nn.Flatten()

    def forward(self, x):
        x = self.pool1(self.relu1(self.bn1(self.conv1(x))))
        return self.fc(self.flat(self.gap(self.relu2(self.conv2(x)))))


class BiLSTMTagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(50, 16)
        self.lstm = nn.LSTM(16, 24, num_layers=2, bidirectional=True, batch_first=True)
        self.tag = nn.Linear(48, 7)

    def forward(self, tokens):
        return self.tag(self.lstm(self.embed(tokens))[0])


class GRUSeq2Seq(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.GRU(4, 32, num_layers=2, batch_first=True)
        self.decoder = nn.GRU(3, 32, num_layers=2, batch_first=True)
        self.proj = nn.Linear(32, 3)

    def forward(self, source, target_in):
        _, state = self.encoder(source)
        return self.proj(self.decoder(target_in, state)[0])


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(64, 64), nn.Linear(64, 64)
        self.act, self.out = nn.ReLU(), nn.ReLU()

    def forward(self, x):
        return self.out(x + self.fc2(self.act(self.fc1(x))))


@dataclass(frozen=True)
class Case:
    """A document, the hand-written module it should equal, and a batch of inputs for both."""

    name: str
    document: dict
    reference: Callable[[], nn.Module]
    inputs: Callable[[int], tuple]


CASES = [
    Case("mlp", _doc(
        [{"id": "x", "type": "input", "params": {"shape": [20]}},
         {"id": "fc1", "type": "linear"}, {"id": "act1", "type": "relu"},
         {"id": "fc2", "type": "linear"}, {"id": "act2", "type": "tanh"},
         {"id": "fc3", "type": "linear", "params": {"out_features": 5}}, {"id": "y", "type": "output"}],
        _chain("x", "fc1", "act1", "fc2", "act2", "fc3", "y"),
    ), MLP, lambda n: (torch.randn(n, 20),)),
    Case("cnn", _doc(
        [{"id": "image", "type": "input", "params": {"shape": [1, 12, 12]}},
         {"id": "conv1", "type": "conv2d", "params": {"out_channels": 8, "padding": 1}},
         {"id": "bn1", "type": "batchnorm"}, {"id": "relu1", "type": "relu"}, {"id": "pool1", "type": "maxpool2d"},
         {"id": "conv2", "type": "conv2d"}, {"id": "relu2", "type": "relu"},
         {"id": "gap", "type": "adaptive_avgpool2d", "params": {"output_size": 2}}, {"id": "flat", "type": "flatten"},
         {"id": "fc", "type": "linear", "params": {"out_features": 10}}, {"id": "logits", "type": "output"}],
        _chain("image", "conv1", "bn1", "relu1", "pool1", "conv2", "relu2", "gap", "flat", "fc", "logits"),
    ), CNN, lambda n: (torch.randn(n, 1, 12, 12),)),
    Case("bilstm_tagger", _doc(
        [{"id": "tokens", "type": "input", "params": {"shape": [12], "dtype": "int64"}},
         {"id": "embed", "type": "embedding", "params": {"num_embeddings": 50, "embedding_dim": 16}},
         {"id": "lstm", "type": "lstm", "params": {"hidden_size": 24, "num_layers": 2, "bidirectional": True}},
         {"id": "tag", "type": "linear", "params": {"out_features": 7}}, {"id": "tags", "type": "output"}],
        _chain("tokens", "embed", "lstm", "tag", "tags"),
    ), BiLSTMTagger, lambda n: (torch.randint(0, 50, (n, 12)),)),
    Case("gru_seq2seq", _doc(
        [{"id": "source", "type": "input", "params": {"shape": [10, 4]}},
         {"id": "target_in", "type": "input", "params": {"shape": [8, 3]}},
         {"id": "encoder", "type": "gru", "params": {"hidden_size": 32, "num_layers": 2}},
         {"id": "decoder", "type": "gru", "params": {"hidden_size": 32, "num_layers": 2}},
         {"id": "proj", "type": "linear", "params": {"out_features": 3}}, {"id": "prediction", "type": "output"}],
        [("source", "encoder"), ("encoder", "decoder", "state", "state"), ("target_in", "decoder"),
         ("decoder", "proj"), ("proj", "prediction")],
    ), GRUSeq2Seq, lambda n: (torch.randn(n, 10, 4), torch.randn(n, 8, 3))),
    Case("residual", _doc(
        [{"id": "x", "type": "input", "params": {"shape": [64]}},
         {"id": "fc1", "type": "linear"}, {"id": "act", "type": "relu"},
         {"id": "fc2", "type": "linear"}, {"id": "skip", "type": "add"},
         {"id": "out", "type": "relu"}, {"id": "y", "type": "output"}],
        _chain("x", "fc1", "act", "fc2", "skip", "out", "y") + [("x", "skip")],
    ), Residual, lambda n: (torch.randn(n, 64),)),
]


def twins(case: Case) -> tuple[nn.Module, nn.Module]:
    """The compiled document and its hand-written twin, holding the same weights."""
    compiled = engine.compile_model(engine.from_dict(case.document))
    reference = case.reference()
    reference.load_state_dict(compiled.state_dict())
    return compiled, reference


def _run(model: nn.Module, inputs: tuple, seed: int) -> tuple[torch.Tensor, dict, list]:
    inputs = tuple(x.clone().requires_grad_(x.is_floating_point()) for x in inputs)
    out = model(*inputs)
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed))
    (out * weights).sum().backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    return out, grads, [x.grad for x in inputs]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_compiled_model_equals_hand_written_module(case):
    torch.manual_seed(0)
    compiled, reference = twins(case)
    inputs = case.inputs(6)
    out, grads, input_grads = _run(compiled, inputs, seed=1)
    ref_out, ref_grads, ref_input_grads = _run(reference, inputs, seed=1)
    torch.testing.assert_close(out, ref_out)
    assert grads.keys() == ref_grads.keys()
    for name in grads:
        torch.testing.assert_close(grads[name], ref_grads[name], msg=name)
    for grad, ref_grad in zip(input_grads, ref_input_grads):
        torch.testing.assert_close(grad, ref_grad)
    torch.testing.assert_close(compiled.state_dict(), reference.state_dict())  # e.g. batchnorm running stats


def test_equivalence_detects_a_different_model():
    compiled, reference = twins(CASES[0])
    with torch.no_grad():
        reference.fc3.bias.add_(1e-3)
    inputs = CASES[0].inputs(4)
    with pytest.raises(AssertionError):
        torch.testing.assert_close(compiled(*inputs), reference(*inputs))
