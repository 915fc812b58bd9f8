"""What `check` accepts compiles and trains: ids that Python reads as written, the file format's strict types,
finite numbers, and a model that fits in memory, each refused with a line naming it (issue 12, defects 7 and 11)."""
from __future__ import annotations

import json

import pytest

from layerloom import engine
from layerloom.engine.costs import memory
from layerloom.engine.document import free_id

from cli_runs import MOONS, cli, one_line_error, small_document


def _chain(first_id: str, params: dict | None = None) -> dict:
    return {"format_version": 1, "nodes": [
        {"id": first_id, "type": "input", "params": {"shape": [4]}},
        {"id": "fc", "type": "linear", "params": params or {"out_features": 2}},
        {"id": "y", "type": "output"}],
        "edges": [{"source": first_id, "target": "fc"}, {"source": "fc", "target": "y"}]}


@pytest.mark.parametrize("node_id, reads_as", [("\uff21", "A"), ("\ufb01x", "fix"), ("x\u0307", "\u1e8b")])
def test_an_id_python_would_read_otherwise_is_refused_by_check(node_id, reads_as):
    problems, _ = engine.check(engine.from_dict(_chain(node_id)))
    assert [str(p) for p in problems] == [f"node '{node_id}', id: Python reads this id as '{reads_as}': write it "
                                          "that way"]
    assert free_id(node_id, []) == reads_as


def test_block_names_and_params_python_would_read_otherwise_are_refused_by_check():
    """Export writes a block as a class and its params as constructor arguments: 'ﬁ' and 'fi' would be one."""
    doc = _chain("x")
    doc.update(format_version=2, blocks={"\uff21": {"params": {"\ufb01": 2, "fi": 3}, "nodes": [
        {"id": "i", "type": "input"}, {"id": "o", "type": "output"}], "edges": [{"source": "i", "target": "o"}]}})
    problems, _ = engine.check(engine.from_dict(doc))
    assert [str(p) for p in problems] == [
        "block '\uff21': Python reads a block name as 'A': write it that way",
        "block '\uff21', params: Python reads param name '\ufb01' as 'fi': write it that way"]


@pytest.mark.parametrize("node_id", ["β", "größe", "x_1"])
def test_ids_python_reads_as_written_compile(node_id):
    model = engine.compile_model(engine.from_dict(_chain(node_id)))
    assert model.input_names == [node_id]


@pytest.mark.parametrize("value, message", [
    (True, "params.out_features: Input should be a valid integer"),
    ("64", "params.out_features: Input should be a valid integer"),
    (64.0, "params.out_features: Input should be a valid integer"),
])
def test_the_file_format_has_strict_types(value, message):
    with pytest.raises(engine.DocumentError) as error:
        engine.from_dict(_chain("x", {"out_features": value}))
    assert [str(p) for p in error.value.problems] == [f"node 'fc', {message}"]


def test_a_non_finite_learning_rate_is_named_as_such():
    doc = dict(_chain("x"), training=dict(MOONS, optimizer={"lr": float("nan")}))
    with pytest.raises(engine.DocumentError) as error:
        engine.loads(json.dumps(doc))
    assert [str(p) for p in error.value.problems] == ["training.optimizer.lr: Input should be a finite number"]


def test_a_model_too_large_for_this_machine_is_refused_before_allocating(tmp_path, monkeypatch):
    doc = small_document(tmp_path / "big.json", nodes=[
        {"id": "x", "type": "input", "params": {"shape": [2]}},
        {"id": "wide", "type": "linear", "params": {"out_features": 20_000}},
        {"id": "fc", "type": "linear", "params": {"out_features": 20_000}},
        {"id": "scores", "type": "linear", "params": {"out_features": 2}},
        {"id": "y", "type": "output"}])  # 400 million parameters: 1.49 GiB of weights, 7.46 GiB to train with adam
    monkeypatch.setattr(memory, "available_memory", lambda: 3 * 1024**3)
    assert cli("summary", doc)[0] == 0  # nothing is allocated to describe it
    line = one_line_error(cli("train", doc, "--out", tmp_path / "run"))
    assert "training at batch 16 (5.96 GiB (activations <0.01, parameters 1.49, gradients 1.49, Adam state 2.98), " \
        "and the last good weights) needs 7.46 GiB, and this machine has 3 GiB available" in line
    monkeypatch.setattr(memory, "available_memory", lambda: 1024**3)
    line = one_line_error(cli("export", doc, "--format", "python", "-o", tmp_path / "x.py", "--weights",
                              tmp_path / "none.pt"))
    assert "the model's 400,120,002 parameters needs 1.49 GiB, and this machine has 1 GiB available" in line
