"""The trainer: learns, repeats exactly for a seed, writes a run folder, resumes, stops on NaN and on cancel."""
import gc
import json
import mmap
import threading
from pathlib import Path

import pytest
import torch

from layerloom import engine
from layerloom.engine.data import Dataset
from layerloom.engine.fileio import load_torch as load_weights
from layerloom.engine.train.events import each_step, parse_event
from layerloom.engine.train.trainer import Trainer, TrainOptions

TRAINING = {"dataset": {"name": "moons", "params": {"n_samples": 240}}, "loss": "cross_entropy",
            "optimizer": {"name": "adam", "lr": 0.02}, "epochs": 4, "batch_size": 32}


def _doc(training=TRAINING, outputs=2, extra_output=False):
    nodes = [
        {"id": "x", "type": "input", "params": {"shape": [2]}},
        {"id": "hidden", "type": "linear", "params": {"out_features": 16}},
        {"id": "act", "type": "tanh"},
        {"id": "scores", "type": "linear", "params": {"out_features": outputs}},
        {"id": "y", "type": "output"},
    ]
    edges = [{"source": "x", "target": "hidden"}, {"source": "hidden", "target": "act"},
             {"source": "act", "target": "scores"}, {"source": "scores", "target": "y"}]
    if extra_output:
        nodes.append({"id": "y2", "type": "output"})
        edges.append({"source": "act", "target": "y2"})
    return engine.from_dict({"format_version": 1, "nodes": nodes, "edges": edges, "training": training})


def _train(arch=None, dataset=None, **options):
    events = []
    trainer = Trainer(arch or _doc(), TrainOptions(**options), on_event=each_step(events.append), dataset=dataset)
    return trainer.run(), events


def _of(events, kind):
    return [e for e in events if e.event == kind]


def test_short_training_lowers_the_loss_and_reports_every_epoch():
    result, events = _train()
    epochs = _of(events, "epoch")
    assert result.status == "completed" and [e.epoch for e in epochs] == [1, 2, 3, 4]
    assert set(epochs[0].metrics) == {"train_loss", "val_loss", "train_accuracy", "val_accuracy"}
    assert epochs[-1].metrics["train_loss"] < 0.8 * epochs[0].metrics["train_loss"]
    assert result.metrics == _of(events, "end")[0].metrics == epochs[-1].metrics
    assert result.metrics["val_accuracy"] > 0.8


def test_step_events_come_at_step_one_and_every_log_interval():
    result, events = _train(log_every=5)
    steps = _of(events, "step")
    assert [e.step for e in steps] == [1] + list(range(5, result.step + 1, 5))
    assert [e.event for e in events[:2]] == ["start", "step"] and events[-1].event == "end"
    start = events[0]
    assert start.monitored == ["hidden", "scores"] and start.parameters.per_node == {"hidden": 48, "scores": 34}
    assert start.total_steps == result.step == 4 * start.steps_per_epoch
    assert set(steps[0].grad_norm) == {"hidden", "scores"} and steps[0].activations["act"].saturated_fraction is not None
    assert not _of(_train(log_every=0, max_steps=3)[1], "step")


def test_bptt_profile_and_activation_health_ride_on_profiled_steps():
    arch = engine.from_dict({
        "format_version": 1,
        "nodes": [{"id": "seq", "type": "input", "params": {"shape": [10, 2]}},
                  {"id": "rnn", "type": "rnn", "params": {"hidden_size": 8, "return_sequences": False}},
                  {"id": "act", "type": "tanh"},
                  {"id": "sum", "type": "linear", "params": {"out_features": 1}}, {"id": "y", "type": "output"}],
        "edges": [{"source": "seq", "target": "rnn"}, {"source": "rnn", "target": "act"},
                  {"source": "act", "target": "sum"}, {"source": "sum", "target": "y"}],
        "training": {"dataset": {"name": "adding", "params": {"length": 10, "n_samples": 200}}, "loss": "mse",
                     "batch_size": 16, "epochs": 1},
    })
    events = _train(arch, log_every=2, profile_every=4)[1]
    assert events[0].recurrent == ["rnn"] and "val_accuracy" not in events[-1].metrics
    profiled = {e.step: e for e in _of(events, "step") if e.bptt}
    assert sorted(profiled) == [1, 4, 8] and all(len(e.bptt["rnn"]) == 10 for e in profiled.values())
    assert all((e.activations is None) == (e.step not in profiled) for e in _of(events, "step"))


def test_the_same_seed_repeats_the_run_exactly():
    first, second = _train(log_every=1, max_steps=8)[1], _train(log_every=1, max_steps=8)[1]
    assert [e.loss for e in _of(first, "step")] == [e.loss for e in _of(second, "step")]
    assert _of(first, "end")[0].metrics == _of(second, "end")[0].metrics
    other = _train(log_every=1, max_steps=8, seed=7)[1]
    assert [e.loss for e in _of(other, "step")] != [e.loss for e in _of(first, "step")]


def test_run_folder_holds_document_events_and_safely_loadable_weights(tmp_path):
    result, events = _train(out_dir=tmp_path, epochs=2)
    saved = engine.load(tmp_path / "architecture.json")
    assert saved.training.epochs == 2 and saved.nodes == _doc().nodes
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert [parse_event(line) for line in lines] == events
    model = engine.compile_model(saved)
    model.load_state_dict(torch.load(tmp_path / "model.pt", weights_only=True))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "architecture.json", "checkpoint.pt", "dataset.json", "events.jsonl", "model.pt"]
    assert json.loads((tmp_path / "dataset.json").read_text())["num_classes"] == 2


def test_resuming_continues_exactly_where_the_run_stopped(tmp_path):
    full, _ = _train(out_dir=tmp_path / "full")
    stopped, _ = _train(out_dir=tmp_path / "part", max_steps=9)
    assert stopped.status == "max_steps" and stopped.step == 9
    resumed, events = _train(out_dir=tmp_path / "part", resume=True)
    assert events[0].first_step == 9 and resumed.step == full.step
    assert resumed.metrics == full.metrics
    both = [load_weights(tmp_path / run / "model.pt") for run in ("full", "part")]
    assert all(torch.equal(both[0][key], both[1][key]) for key in both[0])
    log = [json.loads(line)["event"] for line in (tmp_path / "part" / "events.jsonl").read_text().splitlines()]
    assert log.count("start") == 2 and log.count("end") == 1  # cut back to the snapshot: one run, continued


def _regression(inputs, target):
    return Dataset((inputs,), target, "regression", name="synthetic")


@pytest.mark.parametrize("bad_input, node, what", [
    (False, None, "the loss is nan"),  # a NaN target: every output is finite, the loss is not
    (True, "hidden", "the gradient norm is"),  # an infinite input saturates tanh: the loss stays finite
])
def test_non_finite_values_are_reported_with_step_and_layer_and_not_applied(tmp_path, bad_input, node, what):
    inputs, target = torch.randn(8, 2), torch.zeros(8, 2)
    (inputs if bad_input else target)[3, 0] = float("inf") if bad_input else float("nan")
    arch = _doc({"dataset": {"name": "synthetic"}, "loss": "mse", "batch_size": 8, "val_fraction": 0})
    torch.manual_seed(0)
    initial = engine.compile_model(arch).state_dict()
    result, events = _train(arch, _regression(inputs, target), out_dir=tmp_path)
    [error] = _of(events, "error")
    assert result.status == "failed" and (error.step, error.node) == (1, node)
    assert what in error.message and "last good" in error.message
    kept = load_weights(tmp_path / "model.pt")
    assert all(torch.equal(kept[key], initial[key]) for key in initial)


def test_exploding_training_stops_before_the_weights_turn_non_finite(tmp_path):
    arch = _doc({"dataset": {"name": "synthetic"}, "loss": "mse", "batch_size": 16, "epochs": 50,
                 "optimizer": {"name": "sgd", "lr": 10.0}})
    inputs = torch.randn(64, 2) * 100
    result, events = _train(arch, _regression(inputs, inputs * 1000), out_dir=tmp_path, log_every=0)
    assert result.status == "failed" and _of(events, "error")[0].step > 1
    assert "exploding" in [e.kind for e in _of(events, "diagnosis")]
    assert all(torch.isfinite(t).all() for t in load_weights(tmp_path / "model.pt").values())


def test_cancel_from_an_event_stops_before_the_next_step(tmp_path):
    trainers, steps = [], []

    def on_event(event):
        if event.event == "step":
            steps.append(event.step)
            if event.step == 3:
                trainers[0].cancel()

    trainer = Trainer(_doc(), TrainOptions(log_every=1, out_dir=tmp_path), on_event=each_step(on_event))
    trainers.append(trainer)
    result = trainer.run()
    # step events come in batches: no step runs after the batch that held step 3
    assert result.status == "cancelled" and 3 <= result.step == steps[-1] and steps == list(range(1, result.step + 1))
    assert (tmp_path / "model.pt").is_file()


def test_cancel_from_another_thread_stops_within_one_step():
    reached, cancelled = threading.Event(), threading.Event()

    steps = []

    def on_event(event):
        if event.event == "step":
            steps.append(event.step)
            if event.step == 2:
                reached.set()
                cancelled.wait(10)

    trainer = Trainer(_doc(), TrainOptions(log_every=1), on_event=each_step(on_event))
    results = []
    worker = threading.Thread(target=lambda: results.append(trainer.run()))
    worker.start()
    assert reached.wait(60)
    trainer.cancel()
    cancelled.set()
    worker.join(60)
    assert results[0].status == "cancelled" and 2 <= results[0].step == steps[-1]


def test_clipping_caps_the_total_norm_of_every_step():
    arch = _doc(dict(TRAINING, grad_clip={"max_norm": 1e-3}))
    steps = _of(_train(arch, log_every=1, max_steps=5)[1], "step")
    assert all(s.clipped and s.grad_norm_clipped <= 1e-3 * (1 + 1e-5) < s.grad_norm_total for s in steps)


@pytest.mark.parametrize("arch, options, words", [
    (_doc(None), {}, "has no training section"),
    (_doc(extra_output=True), {}, "exactly one output node"),
    (_doc(dict(TRAINING, loss="mse")), {}, "must have the target's shape"),
    (_doc(outputs=1), {}, "scores 1 classes but the dataset has 2"),
    (_doc(dict(TRAINING, dataset={"name": "digits"})), {}, "expects (2,)"),
    (_doc(), {"device": "cuda"}, "no CUDA device"),
])
def test_problems_end_the_run_with_a_clear_error_event(arch, options, words):
    if options.get("device") == "cuda" and torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    result, events = _train(arch, **options)
    assert result.status == "failed" and words in result.error
    assert [e.event for e in events][-1] == "error" and words in events[-1].message


def test_start_records_the_cost_estimate_and_end_the_measured_peak(tmp_path):
    arch = _doc()
    result, events = _train(arch, out_dir=tmp_path, max_steps=3)
    estimate, memory = events[0].estimate, events[-1].memory
    summary = engine.summarize(arch)
    assert estimate.model_dump() == {key: summary[key] for key in estimate.model_dump()}
    assert estimate.batch_size == 32 and estimate.total_macs == 2 * 16 + 16 * 2
    # the weights and the (flat, allocated up front) gradients are held as the steps begin
    held = estimate.param_bytes + estimate.grad_bytes
    assert memory.device == "cpu" and memory.training_bytes == memory.growth_bytes + held
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert parse_event(lines[0]).estimate == estimate and parse_event(lines[-1]).memory == memory


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="the peak is reset through Linux's clear_refs")
def test_peak_memory_counts_growth_into_freed_heap_pages():
    from layerloom.engine.train.peak import PeakMemory
    blocks = [bytearray(2**20) for _ in range(4)]
    del blocks  # glibc now keeps blocks of 1 MiB in its heap
    blocks = [bytearray(2**20) for _ in range(100)]
    keep = blocks[-1]
    del blocks  # 99 MiB freed but resident, under a live block: what earlier work in a process leaves behind
    peak = PeakMemory(torch.nn.Linear(4, 4), torch.device("cpu"))
    peak.start()
    block = torch.ones(16 * 2**20)  # 64 MiB
    del block
    peak.stop()
    assert keep and 56 * 2**20 <= peak.result.growth_bytes < 96 * 2**20


def _resident(mib: int) -> mmap.mmap:
    """`mib` MiB of fresh anonymous pages, every one touched: the resident set grows by exactly that much, whatever
    malloc holds of earlier tests' freed memory (which a tensor of this size may reuse without growing it)."""
    pages = mmap.mmap(-1, mib * 2**20)
    torch.frombuffer(pages, dtype=torch.uint8).fill_(1)
    return pages


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="the peak is reset through Linux's clear_refs")
def test_peak_memory_counts_what_the_steps_allocate_and_nothing_after():
    from layerloom.engine.train.peak import PeakMemory
    block = 64   # MiB; page tables and Python's own objects add well under a MiB
    gc.collect()
    gc.disable()   # no earlier test's garbage freed inside the window
    try:
        _resident(4 * block).close()   # a higher peak before the steps: not theirs
        peak = PeakMemory(torch.nn.Linear(4, 4), torch.device("cpu"))
        peak.start()
        _resident(block).close()
        peak.stop()
        later = _resident(2 * block)   # after the steps: not theirs either
        peak.stop()
        later.close()
    finally:
        gc.enable()
    assert (block - 4) * 2**20 <= peak.result.growth_bytes <= (block + 4) * 2**20
    assert peak.result.training_bytes == peak.result.growth_bytes + 4 * 4 * 4 + 4 * 4
