"""The event stream: every event kind round-trips through JSON and validates against its model."""
import json
import math

import pytest
from pydantic import ValidationError

from typing import get_args

from layerloom.engine.train.events import (
    STATUS_TEXT, ActivationStats, DiagnosisEvent, EndEvent, EndStatus, EpochEvent, ErrorEvent, Event, EventSink,
    ParameterCounts, RunStatus, StartEvent, StepEvent, line_prefix, parse_event, status_after, to_json,
)

EXAMPLES = [
    StartEvent(config={"loss": "mse"}, device="cpu", parameters=ParameterCounts(total=3, trainable=3, per_node={"fc": 3}),
               monitored=["fc"], steps_per_epoch=2, total_steps=4),
    StepEvent(step=10, epoch=1, loss=0.5, grad_norm={"fc": 1.0}, weight_norm={"fc": 2.0}, update_ratio={"fc": 1e-3},
              grad_norm_total=1.0, grad_norm_clipped=0.5, clipped=True, bptt={"rnn": [0.1, 0.2]},
              activations={"act": ActivationStats(mean=0.1, std=1.0, dead_fraction=0.25)}),
    EpochEvent(epoch=1, step=2, metrics={"train_loss": 1.0, "val_loss": 1.1}, seconds=0.5),
    DiagnosisEvent(kind="exploding", nodes=["rnn"], message="big", remedy="Clip.", step=3),
    EndEvent(status="completed", step=4, metrics={"val_loss": 1.0}, seconds=1.0),
    ErrorEvent(message="the loss is nan", step=3, node="fc"),
]


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.event)
def test_every_event_round_trips_through_one_json_line(event):
    line = to_json(event)
    assert "\n" not in line
    assert json.loads(line)["event"] == event.event
    assert parse_event(line) == event


def test_optional_fields_are_left_out_of_the_line():
    line = json.loads(to_json(EXAMPLES[1].model_copy(update={"bptt": None, "activations": None})))
    assert "bptt" not in line and "activations" not in line


def test_non_finite_numbers_survive_the_round_trip():
    event = EXAMPLES[1].model_copy(update={"loss": math.nan, "grad_norm_total": math.inf})
    parsed = parse_event(to_json(event))
    assert math.isnan(parsed.loss) and parsed.grad_norm_total == math.inf


def test_lines_that_break_the_schema_are_refused():
    with pytest.raises(ValidationError):
        parse_event('{"event": "step", "step": 1}')
    with pytest.raises(ValidationError):
        parse_event('{"event": "nonsense"}')
    with pytest.raises(ValidationError):
        parse_event('{"event": "diagnosis", "kind": "sad", "nodes": [], "message": "", "remedy": "", "step": 0}')


def test_sink_appends_one_flushed_line_per_event(tmp_path):
    path = tmp_path / "events.jsonl"
    with EventSink(path) as sink:
        sink(EXAMPLES[0])
        assert path.read_text().count("\n") == 1  # readable while the run goes on
        sink(EXAMPLES[-1])
    assert [parse_event(line) for line in path.read_text().splitlines()] == [EXAMPLES[0], EXAMPLES[-1]]


def test_sink_dash_writes_to_stdout(capsys):
    EventSink("-")(EXAMPLES[2])
    assert parse_event(capsys.readouterr().out.strip()) == EXAMPLES[2]


def test_each_kind_of_line_begins_with_its_prefix_and_no_other():
    kinds = {model.model_fields["event"].default for model in get_args(get_args(Event)[0])}
    assert {e.event for e in EXAMPLES} <= kinds
    for event in EXAMPLES:
        line = to_json(event).encode()
        assert [kind for kind in kinds if line.startswith(line_prefix(kind))] == [event.event]


def test_one_vocabulary_of_run_status():
    assert set(STATUS_TEXT) == set(get_args(RunStatus)) and set(get_args(EndStatus)) < set(get_args(RunStatus))
    ended = EndEvent(status="max_steps", step=4, metrics={}, seconds=1.0)
    assert status_after("running", ended) == "max_steps" and status_after("running", EXAMPLES[-1]) == "failed"
    assert status_after("unfinished", EXAMPLES[1]) == "unfinished"
