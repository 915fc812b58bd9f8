"""Training that fails says where and keeps what is good: the layer where a step went non-finite and weights that
still give a finite loss; the dataset checked against the document first; flags checked like the document's own
fields (issue 12, defects 2, 6 and 10)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from layerloom.engine import compile_model, loads
from layerloom.engine.config import TrainingConfig
from layerloom.engine.train.failed_step import locate
from layerloom.engine.train.options import ProbeOptions, TrainOptions

from cli_runs import MOONS, cli, one_line_error, small_document

ROOT = Path(__file__).resolve().parents[2]
EXPLODING = json.loads((ROOT / "templates" / "rnn_exploding.json").read_text())


@pytest.mark.parametrize("optimizer, what", [
    ({"name": "sgd", "lr": 0.01, "momentum": 0.9}, "the loss is inf"),  # the template as it is
    ({"name": "sgd", "lr": 10.0}, "the loss is"),
])
def test_after_a_non_finite_step_the_kept_weights_evaluate_finite_and_the_layer_is_named(tmp_path, optimizer, what):
    doc = dict(EXPLODING, training=dict(EXPLODING["training"], optimizer=optimizer))
    (tmp_path / "doc.json").write_text(json.dumps(doc))
    line = one_line_error(cli("train", tmp_path / "doc.json", "--out", tmp_path / "run"))
    assert what in line and "'rnn' is the first layer (in forward order) whose" in line
    assert "kept the last good weights (those of step 0, before the update that made them diverge)" in line
    code, out, _ = cli("eval", tmp_path / "run", "--json")
    assert code == 0 and np.isfinite(json.loads(out)["metrics"]["loss"])


class _Chain(nn.Module):
    """first (sums its 3 inputs), middle (times `middle`), tanh, last (times `last`): on ones, middle's output is
    9 * `middle`, and last's weight gradient 4 * tanh(9 * `middle`) times the gradient from the loss."""

    def __init__(self, middle: float, last: float = 0.1):
        super().__init__()
        self.first, self.middle, self.last = nn.Linear(3, 3), nn.Linear(3, 3), nn.Linear(3, 1)
        with torch.no_grad():
            for layer, value in ((self.first, 1.0), (self.middle, middle), (self.last, last)):
                layer.weight.fill_(value)
                layer.bias.zero_()

    def forward(self, x):
        return self.last(torch.tanh(self.middle(self.first(x))))


def test_locate_names_the_first_layer_in_forward_order_where_values_or_gradients_go_non_finite():
    ones = (torch.ones(4, 3),)
    assert locate(_Chain(1e38), ones, lambda out: out.sum()) == ("middle", "output")  # 9e38 overflows
    assert locate(_Chain(1.0), ones, lambda out: out.sum() * 1e38) == ("last", "gradient")  # 4e38 overflows
    assert locate(_Chain(1.0), ones, lambda out: out.sum() * float("nan")) == (None, "loss")
    assert locate(_Chain(1.0), ones, lambda out: out.sum()) == (None, "loss")  # nothing to find



def test_locate_names_a_layer_inside_a_block_instance_by_its_path():
    arch = loads(json.dumps({"format_version": 2, "name": "deep", "blocks": {"pair": {
        "nodes": [{"id": "x", "type": "input"}, {"id": "fc", "type": "linear", "params": {"out_features": 3}},
                  {"id": "y", "type": "output"}],
        "edges": [{"source": "x", "target": "fc"}, {"source": "fc", "target": "y"}]}},
        "nodes": [{"id": "x", "type": "input", "params": {"shape": [3]}}, {"id": "stack", "type": "pair", "repeat": 3},
                  {"id": "y", "type": "output"}],
        "edges": [{"source": "x", "target": "stack"}, {"source": "stack", "target": "y"}]}))
    model = compile_model(arch)
    with torch.no_grad():
        for name, weight in (("stack.0.fc", 1.0), ("stack.1.fc", 1e38)):  # 3 each, then 9e38: overflows
            model.get_submodule(name).weight.fill_(weight)
            model.get_submodule(name).bias.zero_()
    assert locate(model, (torch.ones(2, 3),), lambda out: out.sum()) == ("stack.1.fc", "output")

# ---- the dataset against the document ----

def _npz(tmp_path: Path, x, y) -> str:
    path = tmp_path / "data.npz"
    np.savez(path, x=x, y=y)
    return str(path)


EMBEDDING = [
    {"id": "ids", "type": "input", "params": {"shape": [4], "dtype": "int64"}},
    {"id": "embed", "type": "embedding", "params": {"num_embeddings": 10, "embedding_dim": 3}},
    {"id": "flat", "type": "flatten"},
    {"id": "scores", "type": "linear", "params": {"out_features": 2}},
    {"id": "y", "type": "output"},
]


ONE_HOT = [EMBEDDING[0], {"id": "embed", "type": "one_hot", "params": {"num_classes": 10}}, *EMBEDDING[2:]]


@pytest.mark.parametrize("bad, nodes, words", [
    (10, EMBEDDING, "array 'x' holds token id 10 (sample 5), but node 'embed' takes ids 0 to 9 (num_embeddings 10)"),
    (-1, EMBEDDING, "array 'x' holds token id -1 (sample 5), but node 'embed' takes ids 0 to 9"),
    (12, ONE_HOT, "array 'x' holds token id 12 (sample 5), but node 'embed' takes ids 0 to 9 (num_classes 10)"),
])
def test_token_ids_are_checked_against_the_layers_that_index_by_them(tmp_path, bad, nodes, words):
    x = np.zeros((8, 4), np.int64)
    x[5, 2] = bad
    data = _npz(tmp_path, x, np.zeros(8, np.int64))
    doc = small_document(tmp_path / "doc.json", dict(MOONS, dataset={"name": "npz", "params": {"path": data}}), nodes)
    for command in ("train", "probe"):
        line = one_line_error(cli(command, doc, "--out", tmp_path / command) if command == "train"
                              else cli(command, doc))
        assert words in line


def test_token_ids_are_checked_inside_block_instances_and_against_a_texts_vocabulary(tmp_path):
    x = np.zeros((8, 4), np.int64)
    x[3, 1] = 10
    data = _npz(tmp_path, x, np.zeros(8, np.int64))
    doc = {"format_version": 2, "name": "blocks", "blocks": {"encoder": {
        "params": {"vocab": 10}, "nodes": [{"id": "x", "type": "input"}, {"id": "embed", "type": "embedding", "params":
                                          {"num_embeddings": "$vocab", "embedding_dim": 3}}, {"id": "y", "type": "output"}],
        "edges": [{"source": "x", "target": "embed"}, {"source": "embed", "target": "y"}]}},
        "nodes": [EMBEDDING[0], {"id": "enc", "type": "encoder"}, *EMBEDDING[2:]],
        "edges": [{"source": a, "target": b} for a, b in (("ids", "enc"), ("enc", "flat"), ("flat", "scores"),
                                                          ("scores", "y"))],
        "training": dict(MOONS, dataset={"name": "npz", "params": {"path": data}})}
    (tmp_path / "blocks.json").write_text(json.dumps(doc))
    line = one_line_error(cli("train", tmp_path / "blocks.json", "--out", tmp_path / "run"))
    assert "array 'x' holds token id 10 (sample 3), but node 'enc.embed' takes ids 0 to 9 (num_embeddings 10)" in line
    poems = json.loads((ROOT / "templates" / "char_lstm_poetry.json").read_text())
    embed = next(n for n in poems["nodes"] if n["type"] == "embedding")
    embed["params"]["num_embeddings"] = 40
    (tmp_path / "poems.json").write_text(json.dumps(poems))
    line = one_line_error(cli("train", tmp_path / "poems.json", "--out", tmp_path / "poems"))
    assert "has a vocabulary of 75 tokens, but node 'embed' takes ids 0 to 39 (num_embeddings 40): set " \
           "num_embeddings to 75" in line


def test_labels_are_checked_against_the_output_and_the_loss(tmp_path):
    data = _npz(tmp_path, np.zeros((8, 2), np.float32), np.array([0, 1] * 3 + [2**63 + 5, 1], np.uint64))
    doc = small_document(tmp_path / "doc.json", dict(MOONS, dataset={"name": "npz", "params": {"path": data}}))
    assert "array 'y'" in one_line_error(cli("train", doc, "--out", tmp_path / "run"))
    data = _npz(tmp_path, np.zeros((8, 2), np.float32), np.array([0, 1, 0, 1, 0, 1, 0, 3], np.float32))
    doc = small_document(tmp_path / "bce.json", dict(MOONS, loss="bce_with_logits", dataset={
        "name": "npz", "params": {"path": data}}), [
        {"id": "x", "type": "input", "params": {"shape": [2]}},
        {"id": "logit", "type": "linear", "params": {"out_features": 1}}, {"id": "y", "type": "output"}])
    line = one_line_error(cli("train", doc, "--out", tmp_path / "bce"))
    assert "loss bce_with_logits: array 'y' holds 3.0 (sample 7)" in line and "from 0 to 1" in line


# ---- flags are validated by the document's own models ----

@pytest.mark.parametrize("argv, words", [
    (["train", "{doc}", "--epochs", "0"], "--epochs 0: input should be greater than or equal to 1"),
    (["train", "{doc}", "--max-steps", "0"], "--max-steps 0: input should be greater than or equal to 1"),
    (["train", "{doc}", "--batch-size", "2000000"], "--batch-size 2000000: input should be less than or equal to"),
    (["train", "{doc}", "--seed", "-1"], "--seed -1: input should be greater than or equal to 0"),
    (["train", "{doc}", "--data-limit", "lots"], "--data-limit lots: could not parse value and unit"),
    (["train", "{doc}", "--resume", "--overwrite", "--out", "x"], "--resume continues the run in --out and"),
    (["probe", "{doc}", "--batch-size", "0"], "--batch-size 0: input should be greater than or equal to 1"),
    (["probe", "{doc}", "--batch-size", "-1"], "--batch-size -1: input should be greater than or equal to 1"),
    (["train", "{doc}", "--nproc", "0"], "--nproc 0: input should be greater than or equal to 1"),
])
def test_a_flag_outside_its_field_bounds_is_one_line_naming_it(tmp_path, argv, words):
    doc = small_document(tmp_path / "doc.json")
    assert words in one_line_error(cli(*[str(doc) if a == "{doc}" else a for a in argv]))
    assert not (tmp_path / "runs").exists()


def test_overrides_are_the_training_sections_own_fields():
    for model in (TrainOptions, ProbeOptions):
        for name in ("batch_size", "seed", "device"):
            theirs, ours = TrainingConfig.model_fields[name], model.model_fields[name]
            assert (ours.metadata, ours.description) == (theirs.metadata, theirs.description) and ours.default is None
    assert TrainOptions(epochs=3).overrides() == {"epochs": 3}


def test_a_model_without_weights_is_refused_before_training(tmp_path):
    nodes = [{"id": "x", "type": "input", "params": {"shape": [2]}}, {"id": "act", "type": "relu"},
             {"id": "y", "type": "output"}]
    doc = small_document(tmp_path / "doc.json", MOONS, nodes)
    line = one_line_error(cli("train", doc, "--out", tmp_path / "run"))
    assert "the model has no weights to train" in line
