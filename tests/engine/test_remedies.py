"""Remedies as one-change variants, and `layerloom remedy | compare` through the command line on the lab."""
import re
from collections import Counter

import pytest

from layerloom import engine
from layerloom.engine.cli import main
from layerloom.engine.inline import flatten
from layerloom.engine.remedies import RemedyError, applicable, base_name, derive

TEMPLATES = "templates"


def load(name):
    return engine.load(f"{TEMPLATES}/{name}.json")


def shape_of(arch):
    """The flat graph as (source type, target type) edge counts: what a structural change changes."""
    arch = flatten(arch)
    types = {n.id: n.type for n in arch.nodes}
    return Counter((types[e.source], types[e.target]) for e in arch.edges)


def test_residual_on_the_plain_net_builds_the_residual_twin():
    variant = derive(load("deep_plain"), "residual")
    assert shape_of(variant) == shape_of(load("deep_residual")) and variant.training == load("deep_plain").training


def test_lstm_on_the_rnn_builds_the_lstm_twin():
    variant = derive(load("rnn_adding"), "lstm")
    assert [n.type for n in variant.nodes] == [n.type for n in load("lstm_adding").nodes]
    assert variant.node("memory").params.hidden_size == 32


def test_relu_swaps_every_inner_sigmoid_and_gives_its_layer_kaiming_init():
    original, variant = load("deep_sigmoid_small_init"), derive(load("deep_sigmoid_small_init"), "relu")
    assert not variant.blocks  # a document of blocks is remedied as its flat network
    assert Counter(n.type for n in variant.nodes) == Counter(
        "relu" if n.type == "sigmoid" else n.type for n in flatten(original).nodes)
    assert {n.id for n in variant.nodes if n.type == "relu"} == {f"layers_{i}_relu" for i in range(10)}
    assert all(variant.node(f"layers_{i}_linear").params.init == "kaiming_normal" for i in range(10))
    assert variant.node("scores").params == original.node("scores").params
    assert variant.name == original.name + " + relu" and base_name(variant.name) == original.name


@pytest.mark.parametrize("template, kind, changed", [
    ("deep_sigmoid_small_init", "init", lambda v: {n.params.init for n in v.nodes if n.type == "linear"}
     == {"lecun_normal"}),
    ("mlp_spirals", "batchnorm", lambda v: sum(n.type == "batchnorm" for n in v.nodes) == 3),
    ("rnn_exploding", "clip", lambda v: v.training.grad_clip is not None and v.training.grad_clip.max_norm == 1.0),
    ("mlp_overfit", "weight_decay", lambda v: v.training.optimizer.weight_decay == 1e-4),
])
def test_each_remedy_makes_its_one_change(template, kind, changed):
    original = load(template)
    variant = derive(original, kind)
    assert changed(variant) and not changed(flatten(original))
    assert engine.check(variant)[0] == []


def test_what_applies_follows_the_document():
    assert applicable(load("deep_sigmoid_small_init"))[:2] == ["relu", "init"]
    assert "clip" not in applicable(load("rnn_exploding_clipped")) and "lstm" in applicable(load("rnn_exploding"))
    assert "residual" not in applicable(load("deep_residual"))
    with pytest.raises(RemedyError, match="has no plain RNN layer"):
        derive(load("cnn_digits"), "lstm")
    with pytest.raises(RemedyError, match="unknown remedy 'sideways'"):
        derive(load("cnn_digits"), "sideways")


def test_a_last_sigmoid_that_sets_the_output_range_stays():
    arch = load("rnn_one_to_many_sine")
    squashing = [n.id for n in arch.nodes if n.type in ("sigmoid", "tanh")]
    assert "relu" in applicable(arch) and squashing
    kept = [n for n in derive(arch, "relu").nodes if n.type in ("sigmoid", "tanh")]
    assert all(any(e.source == n.id and arch.node(e.target).type == "output" for e in arch.edges) for n in kept)


def _cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_remedy_and_compare_reproduce_the_lab_gap_through_the_cli(capsys, tmp_path):
    variant = tmp_path / "relu.json"
    code, out, _ = _cli(capsys, "remedy", "deep_sigmoid_small_init", "--list")
    assert code == 0 and re.search(r"^relu .*ReLU", out, re.M) and re.search(r"^lstm .*does not apply", out, re.M)
    assert _cli(capsys, "remedy", "deep_sigmoid_small_init", "--apply", "relu", "-o", str(variant))[0] == 0
    assert engine.load(variant).name.endswith(" + relu")
    for document, folder in (("deep_sigmoid_small_init", "before"), (str(variant), "after")):
        code, _, err = _cli(capsys, "train", document, "--max-steps", "2", "--log-every", "1", "--seed", "0",
                            "--out", str(tmp_path / folder))
        assert code == 0, err
    code, out, err = _cli(capsys, "compare", str(tmp_path / "before"), str(tmp_path / "after"))
    assert code == 0, err
    before, after = map(float, re.search(r"^first/last gradient\s+(\S+)\s+(\S+)$", out, re.M).groups())
    assert before < 1e-3 and 0.1 <= after <= 10
    assert re.search(r"^before -> after: first/last gradient ratio \S+ -> \S+; val accuracy", out, re.M)
    assert re.search(r"^active at the end\s+vanishing in layers.0.linear", out, re.M)


@pytest.mark.parametrize("argv, message", [
    (["remedy", "deep_sigmoid_small_init", "--apply", "sideways", "-o", "{out}"], "unknown remedy 'sideways'"),
    (["remedy", "cnn_digits", "--apply", "lstm", "-o", "{out}"], "remedy 'lstm' does not apply to 'CNN"),
    (["remedy", "cnn_digits", "--apply", "clip"], "--apply needs -o OUT.json"),
    (["compare", "{run}", "{other}"], "trained 'LSTM: the adding problem', not 'MLP"),
    (["compare", "{run}", "{tmp}"], "is not a run folder"),
    (["compare", "{run}"], "two or more run folders"),
])
def test_bad_input_gives_one_line_exit_1_and_writes_nothing(capsys, tmp_path, argv, message):
    run, other = tmp_path / "run", tmp_path / "other"
    for name, folder in (("mlp_spirals", run), ("lstm_adding", other)):
        (folder).mkdir()
        engine.save(load(name), folder / "architecture.json")
        (folder / "events.jsonl").write_text("")
    before = sorted(tmp_path.rglob("*"))
    argv = [a.format(out=tmp_path / "out.json", run=run, other=other, tmp=tmp_path) for a in argv]
    code, out, err = _cli(capsys, *argv)
    assert code == 1 and out == "" and message in err and len(err.strip().splitlines()) == 1
    assert sorted(tmp_path.rglob("*")) == before
