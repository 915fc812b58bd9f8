"""Diagnosis rules on synthetic numbers: each problem is named once, with the remedy that fits the model."""
import math

import pytest

from layerloom.engine.train.advice import ModelFacts
from layerloom.engine.train.diagnosis import CLEAR_AFTER, Diagnoser, Evidence, findings, node_health
from layerloom.engine.train.events import ActivationStats, StepEvent

PLAIN = ModelFacts(types={"fc1": "linear", "act": "sigmoid", "fc2": "linear", "rnn": "rnn"},
                   inits={"fc1": ("normal_0.01", 1.0), "fc2": ("default", 1.0), "rnn": ("default", 1.0)})


def _step(grad=None, total=1.0, bptt=None, reverse=None, activations=None, step=5):
    grad = grad or {"fc1": 1.0, "fc2": 1.0}
    return StepEvent(step=step, epoch=1, loss=1.0, grad_norm=grad, weight_norm={n: 1.0 for n in grad}, update_ratio={},
                     grad_norm_total=total, grad_norm_clipped=total, clipped=False, bptt=bptt, bptt_reverse=reverse,
                     activations=activations)


def diagnose(event, facts):
    """Every problem one step's numbers show, told for the model of `facts`."""
    return [facts.diagnosis(f) for f in findings(Evidence.of(event))]


def _kinds(event, facts=PLAIN):
    return {(d.kind, d.nodes) for d in diagnose(event, facts)}


def test_healthy_numbers_give_no_diagnosis():
    stats = {"act": ActivationStats(mean=0.5, std=0.2, saturated_fraction=0.1)}
    assert diagnose(_step(bptt={"rnn": [0.5, 0.8, 1.0]}, activations=stats), PLAIN) == []


def test_first_layers_far_below_the_last_is_vanishing_with_fitting_remedies():
    [found] = diagnose(_step({"fc1": 1e-6, "fc2": 1.0}), PLAIN)
    assert (found.kind, found.nodes) == ("vanishing", ("fc1",))
    for remedy in ("ReLU", "kaiming", "batchnorm", "residual"):
        assert remedy in found.remedy


def test_vanishing_remedy_leaves_out_what_the_model_already_has():
    facts = ModelFacts(types={"fc1": "linear", "bn": "batchnorm", "skip": "add", "fc2": "linear"},
                       inits={"fc1": ("kaiming_normal", 1.0), "fc2": ("default", 1.0)})
    [found] = diagnose(_step({"fc1": 1e-6, "fc2": 1.0}), facts)
    assert not any(word in found.remedy for word in ("ReLU instead", "kaiming", "batchnorm", "residual"))


@pytest.mark.parametrize("total", [5e3, math.inf, math.nan])
def test_huge_or_non_finite_total_norm_is_exploding(total):
    [found] = diagnose(_step({"fc1": 100.0, "fc2": total}, total=total), PLAIN)
    assert (found.kind, found.nodes) == ("exploding", ("fc2",))
    assert "clip" in found.remedy and "LSTM" in found.remedy and "weight decay" in found.remedy


def test_exploding_remedy_skips_clipping_when_it_is_on():
    facts = ModelFacts(types={"fc2": "linear"}, inits={"fc2": ("default", 3.0)}, clipping=True, weight_decay=0.1)
    [found] = diagnose(_step({"fc2": 5e3}, total=5e3), facts)
    assert "clip" not in found.remedy and "init_gain" in found.remedy and "weight decay" not in found.remedy


def test_bptt_profile_fading_toward_early_steps_is_vanishing_through_time():
    assert _kinds(_step(bptt={"rnn": [1e-7, 1e-3, 1.0]})) == {("vanishing", ("rnn",))}
    assert _kinds(_step(reverse={"rnn": [1.0, 1e-3, 1e-7]})) == {("vanishing", ("rnn",))}
    [found] = diagnose(_step(bptt={"rnn": [1e-7, 1.0]}), PLAIN)
    assert "LSTM or GRU" in found.remedy


def test_bptt_profile_growing_toward_early_steps_is_exploding_through_time():
    assert _kinds(_step(bptt={"rnn": [1e5, 10.0, 1.0]})) == {("exploding", ("rnn",))}


def test_dead_relus_and_saturated_units_are_reported_per_layer():
    stats = {"relu1": ActivationStats(mean=0.0, std=0.0, dead_fraction=0.8),
             "relu2": ActivationStats(mean=0.1, std=0.1, dead_fraction=0.2),
             "act": ActivationStats(mean=0.9, std=0.1, saturated_fraction=0.7)}
    found = {d.kind: d for d in diagnose(_step(activations=stats), PLAIN)}
    assert found["dead_relu"].nodes == ("relu1",) and "80%" in found["dead_relu"].message
    assert "leaky ReLU" in found["dead_relu"].remedy
    assert found["saturation"].nodes == ("act",) and "batchnorm" in found["saturation"].remedy


def test_diagnoser_reports_a_problem_once_while_it_lasts():
    diagnoser = Diagnoser(PLAIN)
    first = diagnoser(_step({"fc1": 1e-6, "fc2": 1.0}, step=1))
    assert [(e.kind, e.nodes, e.step) for e in first] == [("vanishing", ["fc1"], 1)]
    assert diagnoser(_step({"fc1": 1e-6, "fc2": 1.0}, step=2)) == []
    assert [e.kind for e in diagnoser(_step({"fc1": 1.0, "fc2": 1e4}, total=1e4, step=3))] == ["exploding"]


def test_a_trivially_easy_last_step_is_not_exploding_through_time():
    assert _kinds(_step(bptt={"decoder": [1.0, 0.9, 1.1, 0.8, 1e-5]})) == set()


@pytest.mark.parametrize("event", [
    _step({"fc1": 1.0, "fc2": 5e-4, "fc3": 1e-2}),                 # a middle layer low, the first layer fine
    _step(bptt={"rnn": [1.0, 0.9, 1.1, 0.8, 1e-5]}),               # a trivially easy last step
    _step({"fc1": 1e-6, "fc2": 0.5, "fc3": 1.0}),
    _step({"fc1": 1.0, "fc2": 5e3}, total=5e3, bptt={"rnn": [1e-7, 1.0]}),
])
def test_node_health_and_diagnoses_come_from_the_same_findings(event):
    evidence = Evidence.of(event)
    diagnosed = {node for d in diagnose(event, PLAIN) for node in d.nodes}
    unhealthy = {node for node, h in node_health(evidence).items() if h.level != "healthy"}
    assert diagnosed == unhealthy == {node for f in findings(evidence) for node in f.nodes}


def test_node_health_carries_the_number_behind_it():
    health = node_health(Evidence.of(_step({"fc1": 2e-9, "fc2": 1.0})))
    assert health["fc1"].level == "vanishing" and health["fc1"].value == 2e-9 and "2e-09" in health["fc1"].note
    assert health["fc2"] == health["fc2"].__class__("healthy", 1.0, "gradient norm 1")


def test_a_problem_clears_after_fresh_measurements_without_it_and_can_come_back():
    diagnoser = Diagnoser(PLAIN)
    [seen] = diagnoser(_step({"fc1": 1e-6, "fc2": 1.0}, step=1))
    assert seen.key == "vanishing:depth" and seen.remedies == []
    events = [diagnoser(_step(step=s)) for s in range(2, 2 + CLEAR_AFTER)]
    assert events[:-1] == [[]] * (CLEAR_AFTER - 1)
    [cleared] = events[-1]
    assert (cleared.event, cleared.key, cleared.step, cleared.nodes) == ("cleared", "vanishing:depth", 1 + CLEAR_AFTER, ["fc1"])
    [again] = diagnoser(_step({"fc1": 1e-6, "fc2": 1.0}, step=20))
    assert again.event == "diagnosis" and again.step == 20


def test_a_profile_problem_clears_only_on_new_profiles():
    diagnoser = Diagnoser(PLAIN)
    assert [e.key for e in diagnoser(_step(bptt={"rnn": [3e-12, 1.0]}, step=1))] == ["vanishing:bptt:rnn:forward"]
    assert all(diagnoser(_step(step=s)) == [] for s in range(2, 12))       # steps without a profile say nothing
    events = [e for s in (450, 500) for e in diagnoser(_step(bptt={"rnn": [0.2, 1.0]}, step=s))]
    assert [(e.event, e.step) for e in events] == [("cleared", 450 + 50 * (CLEAR_AFTER - 1))]
