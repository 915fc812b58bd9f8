"""The dashboard's Qt-free parts: run buffers, health, stream parsing, run folders and summaries."""
import json
import math
import os
import sys
from collections import deque
from pathlib import Path

import numpy as np
import pytest

from layerloom.designer.import_offer import module_classes
from layerloom.designer.dashboard.progress import format_metrics, progress_text, status_text
from layerloom.designer.dashboard.run_files import document_name, list_runs, read_info
from layerloom.designer.dashboard.run_store import History, RunSeries
from layerloom.designer.dashboard.stream import parse_line, thin
from layerloom.engine.train.events import (ActivationStats, ClearedEvent, DiagnosisEvent, EndEvent, EpochEvent, ErrorEvent, ParameterCounts, StartEvent,
                                 StepEvent, to_json)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from cli_runs import waits_on  # noqa: E402

LAYERS = ["dense1", "dense2", "out"]


def start(**extra) -> StartEvent:
    values = dict(config={"epochs": 2, "grad_clip": {"max_norm": 1.0}}, device="cpu",
                  parameters=ParameterCounts(total=100, trainable=100, per_node={}), monitored=LAYERS,
                  recurrent=["dense2"], steps_per_epoch=5, total_steps=10)
    return StartEvent(**{**values, **extra})


def step(number: int, grads=(1.0, 0.5, 0.25), clipped=False, bptt=None, reverse=None, total=2.0) -> StepEvent:
    return StepEvent(step=number, epoch=(number - 1) // 5 + 1, loss=1.0 / number,
                     grad_norm=dict(zip(LAYERS, grads)), weight_norm={n: 2.0 for n in LAYERS},
                     update_ratio={n: 1e-3 for n in LAYERS}, grad_norm_total=total,
                     grad_norm_clipped=1.0 if clipped else total, clipped=clipped, bptt=bptt, bptt_reverse=reverse)


def fed(*events) -> RunSeries:
    run = RunSeries("test")
    for event in events:
        run.feed(event)
    return run


def test_history_keeps_the_whole_run_in_fixed_memory():
    history = History(1, capacity=8)
    for value in range(100):
        history.append([value])
    rows = history.view()[:, 0]
    assert 4 <= len(rows) <= 8
    assert rows[0] == 0 and rows[-1] >= 100 - 16
    assert len(set(np.diff(rows))) == 1          # evenly spaced


def test_steps_fill_columns_and_per_layer_blocks():
    run = fed(start(), *(step(i, clipped=i % 2 == 0) for i in range(1, 5)))
    assert list(run.column("step")) == [1, 2, 3, 4]
    assert run.block("grad").shape == (4, 3)
    assert run.block("grad")[0].tolist() == [1.0, 0.5, 0.25]
    assert run.block("ratio")[0].tolist() == [1e-3] * 3
    assert run.clipped_share == 0.5
    assert run.max_norm == 1.0
    assert run.latest_grads().tolist() == [1.0, 0.5, 0.25]


def test_layers_come_from_the_first_step_without_a_start_event():
    run = fed(step(1))
    assert run.layers == LAYERS and len(run.column("loss")) == 1


def test_epochs_align_metrics_that_appear_late():
    run = fed(start(), EpochEvent(epoch=1, step=5, metrics={"train_loss": 1.0}, seconds=1),
              EpochEvent(epoch=2, step=10, metrics={"train_loss": 0.5, "val_loss": 0.7}, seconds=2))
    assert run.epoch_steps == [5, 10]
    assert run.epoch_metrics["train_loss"] == [1.0, 0.5]
    assert math.isnan(run.epoch_metrics["val_loss"][0]) and run.epoch_metrics["val_loss"][1] == 0.7


def test_bptt_profiles_keep_both_directions_and_a_short_history():
    events = [step(i, bptt={"dense2": [1.0, 0.1, 0.01]}, reverse={"dense2": [0.01, 0.1, 1.0]}) for i in range(1, 10)]
    run = fed(start(), *events)
    profiles = run.bptt["dense2"]
    assert profiles[-1].step == 9 and len(profiles) < 9
    assert profiles[-1].reverse.tolist() == [0.01, 0.1, 1.0]


def test_progress_and_metrics():
    run = fed(start(), step(5), EpochEvent(epoch=1, step=5, metrics={"val_accuracy": 0.75}, seconds=1))
    fraction, text = progress_text(run)
    assert fraction == 0.5 and "step 5/10" in text and "epoch 1/2" in text
    assert run.current_metrics() == {"loss": 0.2, "val_accuracy": 0.75}
    assert "75.0%" in format_metrics(run.current_metrics())
    run.feed(EndEvent(status="completed", step=10, metrics={"val_accuracy": 0.8}, seconds=3))
    assert not run.running and "finished" in status_text(run) and run.progress()[0] == 0.5


def test_a_crash_without_an_error_event_reports_stderr():
    run = fed(start())
    run.finish(1, "Traceback...\nRuntimeError: boom\n")
    assert run.status == "failed" and run.error.message == "RuntimeError: boom"
    stopped = fed(start())
    stopped.finish(-1, "", stopped=True)
    assert stopped.status == "cancelled" and stopped.error is None


def test_health_levels_from_norms():
    health = fed(start(), step(1, grads=(1e-6, 0.5, 1.0))).health()
    assert {node: h.level for node, h in health.items()} == {"dense1": "vanishing", "dense2": "healthy", "out": "healthy"}
    health = fed(start(), step(1, grads=(math.inf, 5e3, 1.0), total=math.inf)).health()
    assert health["dense1"].level == "nonfinite" and health["dense2"].level == "exploding"


def test_health_from_activations_profiles_and_errors():
    stats = {"relu1": ActivationStats(mean=0, std=0, dead_fraction=0.9), "tanh1": ActivationStats(mean=0, std=1,
             saturated_fraction=0.8), "tanh2": ActivationStats(mean=0, std=1, saturated_fraction=0.1)}
    latest = step(2, bptt={"dense2": [1e-6, 1e-3, 1.0]}).model_copy(update={"activations": stats})
    run = fed(start(), step(1), latest, ErrorEvent(message="loss is nan", step=2, node="dense1"))
    health = run.health()
    assert health["relu1"].level == "dead" and health["tanh1"].level == "saturated"
    assert health["tanh2"].level == "healthy" and health["tanh2"].value == 0.1
    assert health["dense2"].level == "vanishing" and "first step" in health["dense2"].note
    assert health["dense1"].level == "nonfinite" and health["dense1"].note == "loss is nan"


def test_profiles_and_activations_last_until_the_next_profiled_step():
    stats = {"relu1": ActivationStats(mean=0, std=0, dead_fraction=0.9)}
    run = fed(start(), step(1, bptt={"dense2": [1e-6, 1.0]}).model_copy(update={"activations": stats}), step(2))
    assert run.health()["dense2"].level == "vanishing" and run.health()["relu1"].level == "dead"


def test_a_cleared_problem_moves_from_active_to_cleared_and_back():
    seen = DiagnosisEvent(kind="vanishing", nodes=["dense1"], message="m1", remedy="r", step=1, key="vanishing:depth")
    run = fed(start(), seen, ClearedEvent(key="vanishing:depth", kind="vanishing", nodes=["dense1"], step=30))
    assert run.diagnoses == {} and run.cleared["vanishing:depth"][1].step == 30
    run.feed(seen.model_copy(update={"step": 50}))
    assert list(run.diagnoses) == ["vanishing:depth"] and run.cleared == {}


def test_parse_line_ignores_foreign_lines():
    assert parse_line(b"hello") is None
    assert parse_line(b'{"event": "nope"}') is None
    assert parse_line(to_json(step(1)).encode()).step == 1


def test_thin_drops_every_other_step_but_keeps_the_rest():
    lines = deque([b'{"event":"start"}'] + [to_json(step(i)).encode() for i in range(1, 11)] + [b'{"event":"end"}'])
    kept = thin(lines)
    assert kept[0] == lines[0] and kept[-1] == lines[-1] and kept[-2] == lines[-2]
    assert len(kept) == 2 + 5


def test_run_folders_are_listed_with_their_outcome(tmp_path):
    folder = tmp_path / "20240101-000000-mlp"
    folder.mkdir()
    (folder / "architecture.json").write_text("{}")
    events = [start(), step(1), EndEvent(status="completed", step=10, metrics={"val_loss": 0.3}, seconds=1)]
    (folder / "events.jsonl").write_text("".join(to_json(e) + "\n" for e in events))
    (tmp_path / "not-a-run").mkdir()
    runs = list_runs(tmp_path)
    assert [r.name for r in runs] == [folder.name]
    assert runs[0].status == "completed" and runs[0].step == 10 and runs[0].metrics == {"val_loss": 0.3}
    assert not runs[0].has_model and list_runs(tmp_path / "missing") == []
    (folder / "events.jsonl").write_text(to_json(start()) + "\n" + json.dumps({"event": "error", "message": "x"}))
    assert read_info(folder).status == "failed"


@pytest.mark.parametrize("value", [0.0, -1.0, math.nan])
def test_health_ignores_unusable_largest(value):
    health = fed(start(), step(1, grads=(value, value, value), total=value)).health()
    assert all(h.level in ("healthy", "nonfinite") for h in health.values())


def test_a_single_layer_and_missing_layers_are_read():
    run = fed(start(monitored=["only"]), step(1, grads=(1.0, 2.0, 3.0)))
    assert math.isnan(run.block("grad")[0, 0])
    run.feed(StepEvent(step=2, epoch=1, loss=1.0, grad_norm={"only": 0.5}, weight_norm={"only": 1.0},
                       update_ratio={}, grad_norm_total=0.5, grad_norm_clipped=0.5, clipped=False))
    assert run.block("grad")[1, 0] == 0.5 and math.isnan(run.block("ratio")[1, 0])


def test_last_words_of_a_dying_process():
    from layerloom.designer.dashboard.run_store import last_words
    assert last_words("Traceback (most recent call last):\n  File x\nValueError: bad\n") == "ValueError: bad"
    assert last_words("doc.json: node 'a': bad\ndoc.json: node 'b': worse\n") == "doc.json: node 'a': bad; doc.json: node 'b': worse"
    assert last_words("") == ""


def test_the_designer_reads_a_named_pipe_as_nothing_at_once(tmp_path):
    """A FIFO as a run's architecture.json (opening a run folder) or as a dropped .py file is refused at once."""
    os.mkfifo(tmp_path / "architecture.json")
    os.mkfifo(tmp_path / "model.py")
    assert not waits_on(tmp_path / "architecture.json", lambda: document_name(tmp_path))
    assert not waits_on(tmp_path / "model.py", lambda: module_classes(tmp_path / "model.py"))
    assert document_name(tmp_path) == "" and module_classes(tmp_path / "model.py") == []
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "architecture.json").write_text('{"name": "spirals"}')
    (tmp_path / "net.py").write_text("import torch\nclass Net(torch.nn.Module):\n    pass\n")
    assert document_name(tmp_path / "run") == "spirals" and module_classes(tmp_path / "net.py") == ["Net"]
