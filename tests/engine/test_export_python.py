"""`layerloom export --format python`: standalone source whose module equals the compiled model, weights and all."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
import torch
from test_layers_contract import SAMPLES, tiny_graph

from layerloom import engine
from layerloom.engine import REGISTRY
from layerloom.engine.export import python_source
from layerloom.engine.export.layer_code import CODE
from layerloom.engine.export.python_source import SCHEME_CODE, class_name
from layerloom.engine.layers.init import SCHEMES
from layerloom.engine.train.setup import random_inputs
from init_stats import assert_orthogonal, expected_std

TEMPLATES = sorted(p for p in (Path(__file__).resolve().parents[2] / "templates").glob("*.json")
                   if p.name != "GALLERY.json")
ALLOWED_IMPORTS = {"torch", "math", "functools"}


def load_class(arch: engine.Architecture) -> type[torch.nn.Module]:
    """Exec the generated source in a fresh namespace where LayerLoom cannot be imported; returns its model class."""
    source = python_source(arch)
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported <= ALLOWED_IMPORTS, imported
    namespace = {"__name__": "exported"}
    blocked = {name: None for name in ("engine", "designer", "layerloom")}
    saved = {name: sys.modules.get(name) for name in blocked}
    sys.modules.update(blocked)  # importing any of them now raises ImportError
    try:
        exec(compile(source, "exported.py", "exec"), namespace)
        return namespace[class_name(arch.name)]
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def assert_equivalent(arch: engine.Architecture, seed: int = 0) -> None:
    """Same seed, same weights and keys; compiled weights load strictly; equal outputs in eval and train mode."""
    torch.manual_seed(seed)
    compiled = engine.compile_model(arch)
    cls = load_class(arch)
    torch.manual_seed(seed)
    exported = cls()
    expected = compiled.state_dict()
    assert list(exported.state_dict()) == list(expected)
    for name, tensor in exported.state_dict().items():
        assert torch.equal(tensor, expected[name]), f"{name} differs with the same seed"
    exported.load_state_dict(expected, strict=True)
    inputs = random_inputs(arch, 5, torch.Generator().manual_seed(1))
    for mode in ("eval", "train"):  # train: dropout draws and batch statistics (momentum) must agree as well
        results = []
        for model in (compiled, exported):
            getattr(model, mode)()
            torch.manual_seed(2)
            results.append(model(*inputs))
        for got, want in zip(_tuple(results[1]), _tuple(results[0])):
            assert torch.equal(got, want), mode
    for name, tensor in exported.state_dict().items():
        assert torch.equal(tensor, compiled.state_dict()[name]), f"{name} differs after a training-mode step"


def _tuple(value):
    return value if isinstance(value, tuple) else (value,)


def test_every_layer_type_and_init_scheme_has_code():
    assert sorted(CODE) == sorted(t for t in REGISTRY if t not in ("input", "output"))
    assert sorted(SCHEME_CODE) == sorted(SCHEMES)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_every_template_exports_to_an_equivalent_module(path):
    assert_equivalent(engine.load(path), seed=engine.load(path).training.seed)


@pytest.mark.parametrize("layer_type, index", [(t, i) for t in sorted(SAMPLES) if t not in ("input", "output")
                                                for i in range(len(SAMPLES[t]))])
def test_every_layer_type_exports_to_an_equivalent_module(layer_type, index):
    arch = tiny_graph(layer_type, SAMPLES[layer_type][index])
    assert_equivalent(arch)
    compiled, exported = engine.compile_model(arch).get_submodule("layer"), load_class(arch)()
    if hasattr(exported, "layer"):  # built by a constructor, not an expression inlined in forward
        assert exported.layer.extra_repr() == compiled.extra_repr()
        assert getattr(exported.layer, "return_sequences", None) == getattr(compiled, "return_sequences", None)


def graph(nodes: list[dict], edges: list[tuple], name: str = "Test", description: str = "") -> engine.Architecture:
    links = [{"source": e[0], "target": e[1], **({"source_port": e[2], "target_port": e[3]} if len(e) > 2 else {})}
             for e in edges]
    return engine.from_dict({"format_version": 1, "name": name, "description": description, "nodes": nodes,
                             "edges": links})


def test_ids_that_clash_with_the_files_names_and_states_multiple_outputs_and_lstm_states():
    arch = graph([
        {"id": "x", "type": "input", "params": {"shape": [6, 3]}},
        {"id": "torch", "type": "lstm", "params": {"hidden_size": 4, "return_sequences": False, "num_layers": 2}},
        {"id": "torch_state", "type": "relu"},
        {"id": "_", "type": "lstm", "params": {"hidden_size": 4, "num_layers": 2, "init": "orthogonal"}},
        {"id": "nn", "type": "concat", "params": {"dim": -1}},
        {"id": "skip_init", "type": "add"},
        {"id": "summary", "type": "output"},
        {"id": "sequence", "type": "output"},
    ], [("x", "torch"), ("torch", "torch_state"), ("x", "_"), ("torch", "_", "state", "state"),
        ("_", "nn"), ("x", "nn"), ("torch", "skip_init"), ("torch_state", "skip_init"),
        ("skip_init", "summary"), ("nn", "sequence")], name="LSTM")
    source = python_source(arch)
    assert "class LSTMModel(nn.Module):" in source
    assert "torch_2, torch_state_2 = self.torch(x)" in source
    assert "__2, _ = self._(x, torch_state_2)" in source
    assert "nn = torch.cat([__2, x], dim=-1)\n" in source and "return skip_init, nn\n" in source
    assert_equivalent(arch)


def test_forward_reads_like_hand_written_code():
    arch = engine.load(Path(__file__).resolve().parents[2] / "templates" / "seq2seq_reverse.json")
    source = python_source(arch, "seq2seq_reverse.json")
    assert "generated by LayerLoom from seq2seq_reverse.json" in source
    assert source.split("def forward(self, source, decoder_input):\n")[1].splitlines()[1:] == [
        "        embed_source = self.embed_source(source)",
        "        _, encoder_state = self.encoder(embed_source)",
        "        embed_target = self.embed_target(decoder_input)",
        "        decoder, _ = self.decoder(embed_target, encoder_state)",
        "        token = self.token(decoder)",
        "        return token",
    ]
    assert "        self.encoder = GRU(32, 128, return_sequences=False)\n" in source
    assert "class LSTM(" not in source and "import math" not in source


def test_inline_layers_are_expressions_in_forward():
    arch = graph([
        {"id": "x", "type": "input", "params": {"shape": [12]}},
        {"id": "grid", "type": "reshape", "params": {"shape": [3, -1]}},
        {"id": "last", "type": "last_step"},
        {"id": "steps", "type": "repeat", "params": {"steps": 5}},
        {"id": "y", "type": "output"},
    ], [("x", "grid"), ("grid", "last"), ("last", "steps"), ("steps", "y")])
    source = python_source(arch)
    assert "grid = x.reshape(x.shape[0], 3, -1)\n" in source
    assert "last = grid[:, -1]\n" in source and "steps = last.unsqueeze(1).expand(-1, 5, -1)\n" in source
    assert "self.grid" not in source
    assert_equivalent(arch)


def test_docstrings_survive_quotes_backslashes_and_control_characters():
    description = 'Reads """quoted""" text from C:\\new\\table,\tthen a bell \x07 and a final "quote"'
    arch = graph([{"id": "x", "type": "input", "params": {"shape": [2]}}, {"id": "y", "type": "output"}],
                 [("x", "y")], name='A "model" \\ named oddly', description=description)
    model = load_class(arch)
    assert " ".join(model.__doc__.split()) == " ".join(description.split())
    assert torch.equal(model()(torch.ones(3, 2)), torch.ones(3, 2))


@pytest.mark.parametrize("name, expected", [
    ("Residual MLP", "ResidualMLP"), ("seq2seq: reverse", "Seq2seqReverse"), ("3 layers", "Model3Layers"),
    ("GRU", "GRUModel"), ("none", "NoneModel"), ("", "Model"), ("---", "Model"), ("Réseau", "Réseau"),
])
def test_class_names_come_from_the_document_name(name, expected):
    assert class_name(name) == expected


def _init_doc(scheme: str, gain: float = 1.0) -> engine.Architecture:
    weighted = {"init": scheme, "init_gain": gain}
    return graph([
        {"id": "tokens", "type": "input", "params": {"shape": [5], "dtype": "int64"}},
        {"id": "embed", "type": "embedding", "params": {"num_embeddings": 150, "embedding_dim": 200,
                                                         "padding_idx": 0, **weighted}},
        {"id": "conv", "type": "conv1d", "params": {"out_channels": 300, "kernel_size": 3, "padding": 1, **weighted}},
        {"id": "gru", "type": "gru", "params": {"hidden_size": 150, **weighted}},
        {"id": "fc", "type": "linear", "params": {"out_features": 120, **weighted}},
        {"id": "y", "type": "output"},
    ], [("tokens", "embed"), ("embed", "conv"), ("conv", "gru"), ("gru", "fc"), ("fc", "y")])


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_init_schemes_give_the_expected_statistics_and_the_compiled_weights(scheme):
    arch = _init_doc(scheme, gain=2.0)
    assert_equivalent(arch, seed=3)
    torch.manual_seed(3)
    model = load_class(arch)()
    assert (model.embed.weight[0] == 0).all()
    for name, param in model.named_parameters():
        if "bias" in name:
            assert (param == 0).all(), name
            continue
        weight = (param[1:] if name == "embed.weight" else param).detach() / 2.0
        if scheme == "orthogonal":
            assert_orthogonal(weight)
        else:
            assert weight.std().item() == pytest.approx(expected_std(scheme, param), rel=0.1), name




def test_default_init_with_a_gain_keeps_torch_biases_and_scales_weights():
    arch = _init_doc("default", gain=0.5)
    assert_equivalent(arch, seed=4)
    source = python_source(arch)
    assert "self.fc = nn.Linear(150, 120)\n        init_weights(self.fc, gain=0.5)\n" in source
    assert "skip_init(" not in source
    torch.manual_seed(4)
    assert (load_class(arch)().fc.bias != 0).all()
