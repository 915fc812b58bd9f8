"""What the monitor measures of sequence and attention layers: the gradient by position, attention maps, their
diagnoses and remedies."""
from __future__ import annotations

import pytest
import torch

from layerloom import engine
from layerloom.engine.cli import main
from layerloom.engine.remedies import derive
from layerloom.engine.train.advice import ModelFacts
from layerloom.engine.train.attention import normalized_entropy
from layerloom.engine.train.diagnosis import UNIFORM_AFTER, Diagnoser, Evidence, findings, node_health
from layerloom.engine.train.events import AttentionMap, StepEvent, each_step, parse_event, to_json
from layerloom.engine.train.positions import PositionCapture, sequence_layers
from layerloom.engine.train.probe import probe
from layerloom.engine.train.trainer import Trainer, TrainOptions

T = 60


def _sequence_model(mixer: dict, steps: int = T) -> engine.Architecture:
    """The adding problem read by one layer that mixes positions (`mix`), then its last step summed."""
    return engine.from_dict({"format_version": 1, "name": "mixer", "nodes": [
        {"id": "seq", "type": "input", "params": {"shape": [steps, 2]}},
        {"id": "embed", "type": "linear", "params": {"out_features": 8}},
        {"id": "mix", **mixer},
        {"id": "last", "type": "last_step"},
        {"id": "sum", "type": "linear", "params": {"out_features": 1}},
        {"id": "y", "type": "output"}],
        "edges": [{"source": a, "target": b} for a, b in [("seq", "embed"), ("embed", "mix"), ("mix", "last"),
                                                          ("last", "sum"), ("sum", "y")]],
        "training": {"dataset": {"name": "adding", "params": {"length": steps, "n_samples": 200}}, "loss": "mse"}})


CAUSAL = {"type": "multihead_attention", "params": {"num_heads": 2, "causal": True}}


def test_a_causal_attention_gradient_reaches_the_first_position_where_a_small_tanh_rnns_underflows():
    attention = probe(_sequence_model(CAUSAL)).step.grad_by_position["mix"]
    rnn = probe(_sequence_model({"type": "rnn", "params": {"hidden_size": 8, "init": "normal_0.01"}}))
    fading = rnn.step.grad_by_position["mix"]
    assert len(attention) == len(fading) == T
    assert fading[-1] > 0 and fading[0] == 0.0            # 60 products of small tanh Jacobians underflow float32
    assert attention[0] > 0 and max(attention) / attention[0] < 10   # one hop from the last position to any
    assert "vanishing" in {d.kind for d in rnn.diagnoses}


def test_the_gradient_by_position_is_the_norm_of_the_inputs_gradient_at_each_step():
    model = engine.compile_model(_sequence_model(CAUSAL, steps=9))
    x = torch.randn(4, 9, 2)
    kept = {}
    model.get_submodule("mix").register_forward_hook(lambda m, args, out: kept.update(x=args[0]))
    capture = PositionCapture(sequence_layers(model, ["mix", "sum"]))
    with capture:
        out = model(x)
    kept["x"].retain_grad()
    out.square().mean().backward()
    [(name, norms)] = capture.profiles().items()
    assert name == "mix"
    torch.testing.assert_close(norms, kept["x"].grad.norm(dim=(0, 2)))
    data_fed = PositionCapture(sequence_layers(model, ["embed"]))   # data needs no gradient: a leaf keeps one
    with data_fed:
        out = model(x)
    out.sum().backward()
    assert data_fed.profiles()["embed"].shape == (9,) and x.grad is None


def test_attention_maps_of_the_probe_samples_sum_to_one_over_the_keys_and_respect_the_mask():
    events = []
    arch = _sequence_model(CAUSAL, steps=12)
    Trainer(arch, TrainOptions(max_steps=1), on_event=each_step(events.append)).run()
    step = next(e for e in events if e.event == "step")
    maps = step.attention["mix"]
    weights = torch.tensor(maps.weights)
    assert weights.shape == (2, 12, 12)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 12), atol=12 * 5e-5, rtol=0)   # 4 decimals written
    assert (weights.triu(1) == 0).all() and (weights[:, 0, 0] == 1).all()
    assert len(maps.entropy) == 2 and all(0.9 < e <= 1 for e in maps.entropy)   # near uniform at initialization
    assert parse_event(to_json(step)).attention["mix"] == maps


def test_entropy_is_a_share_of_what_each_query_can_see():
    uniform_causal = torch.tril(torch.ones(5, 5)) / torch.arange(1, 6).unsqueeze(1)
    one_hot = torch.eye(5)
    both = torch.stack([uniform_causal, one_hot]).unsqueeze(0)       # (N=1, heads=2, 5, 5)
    torch.testing.assert_close(normalized_entropy(both, causal=True), torch.tensor([1.0, 0.0]))
    full = torch.full((1, 1, 3, 4), 0.25)
    torch.testing.assert_close(normalized_entropy(full, causal=False), torch.tensor([1.0]))


FACTS = ModelFacts(types={"embed": "linear", "mix": "multihead_attention"}, inits={"mix": ("default", 1.0)})


def _attention_step(entropy: list[float], step: int) -> StepEvent:
    return StepEvent(step=step, epoch=1, loss=1.0, grad_norm={"mix": 1.0}, weight_norm={"mix": 1.0}, update_ratio={},
                     grad_norm_total=1.0, grad_norm_clipped=1.0, clipped=False,
                     attention={"mix": AttentionMap(weights=[[[1.0]]], entropy=entropy)})


def test_collapsed_attention_is_diagnosed_at_once_and_uniform_only_once_training_has_had_time():
    [collapsed] = findings(Evidence.of(_attention_step([0.01, 0.03], step=1)))
    assert (collapsed.kind, list(collapsed.nodes)) == ("collapsed_attention", ["mix"])
    assert node_health(Evidence.of(_attention_step([0.01, 0.03], step=1)))["mix"].level == "attention"
    assert findings(Evidence.of(_attention_step([0.995, 0.999], step=1))) == []       # how attention starts
    assert findings(Evidence.of(_attention_step([0.5, 0.999], step=UNIFORM_AFTER))) == []   # one head looks
    [uniform] = findings(Evidence.of(_attention_step([0.995, 0.999], step=UNIFORM_AFTER)))
    assert uniform.kind == "uniform_attention" and "has not learned where to look" in uniform.message
    diagnosis = FACTS.diagnosis(uniform)
    assert "positional_encoding" in diagnosis.remedy and diagnosis.remedies == ()
    with_positions = ModelFacts(types={**FACTS.types, "pos": "positional_encoding"}, inits=FACTS.inits,
                                applicable=("positions",))
    assert "positional" not in with_positions.diagnosis(uniform).remedy
    assert "init_gain below 1" in FACTS.diagnosis(collapsed).remedy


def test_a_diagnosed_attention_problem_clears_when_the_maps_no_longer_show_it():
    diagnoser = Diagnoser(FACTS)
    [found] = diagnoser(_attention_step([0.01, 0.02], step=50))
    assert found.kind == "collapsed_attention"
    assert diagnoser(_attention_step([0.4, 0.5], step=100)) == []
    [cleared] = diagnoser(_attention_step([0.4, 0.5], step=150))
    assert cleared.event == "cleared" and cleared.key == found.key


def test_huge_attention_weights_collapse_it_and_the_probe_says_so():
    arch = _sequence_model({"type": "multihead_attention", "params": {"num_heads": 2, "init_gain": 100}}, steps=12)
    result = probe(arch)
    assert max(result.step.attention["mix"].entropy) < 0.05
    assert "collapsed_attention" in {d.kind for d in result.diagnoses}


def test_the_positions_remedy_adds_a_sinusoidal_encoding_before_the_first_attention():
    arch = _sequence_model(CAUSAL)
    variant = derive(arch, "positions")
    added = [n for n in variant.nodes if n.type == "positional_encoding"]
    assert [n.id for n in added] == ["embed_positions"]
    assert {(e.source, e.target) for e in variant.edges} >= {("embed", "embed_positions"), ("embed_positions", "mix")}
    with pytest.raises(Exception, match="has positional information already"):
        derive(variant, "positions")


def test_a_cross_attention_is_profiled_at_the_sequence_it_reads_and_its_maps_name_the_tokens():
    arch = engine.from_dict({"format_version": 1, "name": "reader", "nodes": [
        {"id": "source", "type": "input", "params": {"shape": [8], "dtype": "int64"}},
        {"id": "decoder_input", "type": "input", "params": {"shape": [9], "dtype": "int64"}},
        {"id": "embed_source", "type": "embedding", "params": {"num_embeddings": 12, "embedding_dim": 8}},
        {"id": "encoder", "type": "gru", "params": {"hidden_size": 8}},
        {"id": "embed_target", "type": "embedding", "params": {"num_embeddings": 12, "embedding_dim": 8}},
        {"id": "read", "type": "multihead_attention", "params": {"num_heads": 2}},
        {"id": "token", "type": "linear", "params": {"out_features": 12}},
        {"id": "tokens", "type": "output"}],
        "edges": [{"source": "source", "target": "embed_source"}, {"source": "embed_source", "target": "encoder"},
                  {"source": "decoder_input", "target": "embed_target"},
                  {"source": "embed_target", "target": "read", "target_port": "query"},
                  {"source": "encoder", "target": "read", "target_port": "key_value"},
                  {"source": "read", "target": "token"}, {"source": "token", "target": "tokens"}],
        "training": {"dataset": {"name": "reverse", "params": {"length": 8}}, "loss": "cross_entropy"}})
    step = probe(arch).step
    assert len(step.grad_by_position["read"]) == 8 and len(step.grad_by_position["encoder"]) == 8
    maps = step.attention["read"]
    assert maps.queries[0] == "<start>" and len(maps.queries) == 9
    assert maps.keys[::-1] == maps.queries[1:]          # the decoder reads the source reversed


def test_attention_inside_a_repeated_block_is_measured_by_its_path():
    block = {"params": {"heads": 2}, "nodes": [
        {"id": "x", "type": "input"}, {"id": "attn", "type": "multihead_attention", "params": {"num_heads": "$heads"}},
        {"id": "skip", "type": "add"}, {"id": "y", "type": "output"}],
        "edges": [{"source": "x", "target": "attn"}, {"source": "attn", "target": "skip"}, {"source": "x", "target": "skip"},
                  {"source": "skip", "target": "y"}]}
    arch = engine.from_dict({"format_version": 2, "name": "stacked", "blocks": {"mixer": block}, "nodes": [
        {"id": "chars", "type": "input", "params": {"shape": [10], "dtype": "int64"}},
        {"id": "embed", "type": "embedding", "params": {"num_embeddings": 75, "embedding_dim": 8}},
        {"id": "stage", "type": "mixer", "repeat": 2},
        {"id": "next_char", "type": "linear", "params": {"out_features": 75}}, {"id": "logits", "type": "output"}],
        "edges": [{"source": a, "target": b} for a, b in [("chars", "embed"), ("embed", "stage"), ("stage", "next_char"),
                                                          ("next_char", "logits")]],
        "training": {"dataset": {"name": "poetry", "params": {"length": 10, "n_samples": 200}}, "loss": "cross_entropy"}})
    step = probe(arch).step
    assert list(step.grad_by_position) == list(step.attention) == ["stage.0.attn", "stage.1.attn"]
    assert all(len(profile) == 10 for profile in step.grad_by_position.values())
    assert step.attention["stage.0.attn"].keys == step.attention["stage.0.attn"].queries
    assert len(step.attention["stage.0.attn"].keys) == 10


def test_the_probe_command_prints_the_gradient_by_position_and_the_entropy(tmp_path, capsys):
    path = tmp_path / "mixer.json"
    engine.save(_sequence_model(CAUSAL, steps=12), path)
    assert main(["probe", str(path)]) == 0
    out = capsys.readouterr().out
    assert "by position 'mix': ||dL/dx_t|| from " in out and "(t=11)" in out
    assert "attention 'mix': entropy per head " in out
