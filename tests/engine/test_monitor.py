"""The gradient monitor: its buffered per-step numbers equal what torch computes directly, step by step."""
import numpy as np
import pytest
import torch

from layerloom import engine
from layerloom.engine.config import GradClip
from layerloom.engine.data import Dataset
from layerloom.engine.train import monitor as monitor_module
from layerloom.engine.train.advice import ModelFacts
from layerloom.engine.train.diagnosis import Diagnoser, Evidence, findings, may_fire
from layerloom.engine.train.events import StepRows, each_step
from layerloom.engine.train.flat import FlatParameters
from layerloom.engine.train.health import Capture
from layerloom.engine.train.monitor import Captured, GradientMonitor
from layerloom.engine.train.recorder import DeviceRecorder, HostRecorder
from layerloom.engine.fileio import load_torch as load_weights
from layerloom.engine.train.trainer import Trainer, TrainOptions

RECORDERS = ["host", "device"]  # the CPU runs the device recorder too: same torch calls, on CPU tensors


def _doc(training=None):
    return engine.from_dict({
        "format_version": 1,
        "nodes": [
            {"id": "x", "type": "input", "params": {"shape": [2]}},
            {"id": "hidden", "type": "linear", "params": {"out_features": 8}},
            {"id": "act", "type": "relu"},
            {"id": "scores", "type": "linear", "params": {"out_features": 2}},
            {"id": "y", "type": "output"},
        ],
        "edges": [{"source": "x", "target": "hidden"}, {"source": "hidden", "target": "act"},
                  {"source": "act", "target": "scores"}, {"source": "scores", "target": "y"}],
        "training": training or {"dataset": {"name": "moons", "params": {"n_samples": 200}}, "loss": "cross_entropy",
                                 "optimizer": {"name": "adam", "lr": 0.05}, "epochs": 3, "batch_size": 16},
    })


def _flat(tensors):
    return torch.cat([t.detach().reshape(-1) for t in tensors])


def _use(recorder: str, monitor: GradientMonitor, clip=None) -> None:
    if recorder == "device":
        monitor.recorder = DeviceRecorder(monitor.flat, clip, monitor_module.FLUSH_ROWS)


class Watched(Trainer):
    """A Trainer whose optimizer steps are watched: torch's own norms of each step, computed directly."""

    recorder = "host"

    def _setup(self):
        super()._setup()
        _use(self.recorder, self.monitor, self.config.grad_clip)
        self.expected, step = [], self.optimizer.step
        layers = {node: list(self.model.get_submodule(node).parameters()) for node in self.monitor.nodes}

        def watched():
            before = {node: _flat(ps).clone() for node, ps in layers.items()}
            grads = {node: float(_flat(p.grad for p in ps).norm()) for node, ps in layers.items()}
            step()
            self.expected.append({
                "grad_norm": grads, "weight_norm": {node: float(w.norm()) for node, w in before.items()},
                "update_ratio": {node: float((_flat(layers[node]) - w).norm() / w.norm()) for node, w in before.items()},
            })
        self.optimizer.step = watched


@pytest.mark.parametrize("recorder", RECORDERS)
def test_buffered_per_step_norms_equal_norms_computed_directly_with_torch(monkeypatch, recorder):
    monkeypatch.setattr(monitor_module, "FLUSH_ROWS", 7)  # several batches, the last one partial
    monkeypatch.setattr(monitor_module, "FLUSH_SECONDS", 1e9)
    events, reads = [], []
    monkeypatch.setattr(GradientMonitor, "read", lambda self, _f=GradientMonitor.read: reads.append(1) or _f(self))
    Watched.recorder = recorder
    trainer = Watched(_doc(), TrainOptions(log_every=1, max_steps=25), on_event=each_step(events.append))
    assert trainer.run().status == "max_steps"
    steps = [e for e in events if e.event == "step"]
    assert [e.step for e in steps] == list(range(1, 26)) and len(reads) < 10  # every step, read in batches
    for event, expected in zip(steps, trainer.expected):
        for field in ("grad_norm", "weight_norm"):
            assert getattr(event, field) == pytest.approx(expected[field], rel=1e-5)
        assert event.update_ratio == pytest.approx(expected["update_ratio"], rel=1e-4)
        total = sum(v * v for v in expected["grad_norm"].values()) ** 0.5
        assert event.grad_norm_total == pytest.approx(total, rel=1e-5) and not event.clipped


class PoisonedAt(Trainer):
    """A Trainer whose batch at step `bad` has one NaN target."""

    bad = 23

    def _step(self, xs, y):
        if self.step + 1 == self.bad:
            y = y.clone()
            y[0, 0] = float("nan")
        super()._step(xs, y)


def test_a_nan_in_step_k_is_reported_at_step_k_with_its_layer(tmp_path, monkeypatch):
    monkeypatch.setattr(monitor_module, "FLUSH_ROWS", 10)  # step 23 fails with rows 21 and 22 still unread
    monkeypatch.setattr(monitor_module, "FLUSH_SECONDS", 1e9)
    arch = _doc({"dataset": {"name": "synthetic"}, "loss": "mse", "batch_size": 8, "epochs": 2, "val_fraction": 0})
    torch.manual_seed(0)
    inputs = torch.randn(240, 2)
    data = Dataset((inputs,), torch.stack([inputs.sum(1), inputs[:, 0]], 1), "regression", name="synthetic")
    events = []
    result = PoisonedAt(arch, TrainOptions(log_every=1, out_dir=tmp_path / "bad"), each_step(events.append), data).run()
    steps = [e for e in events if e.event == "step"]
    error = events[-1]
    assert result.status == "failed" and error.event == "error" and error.step == 23 and "step 23" in error.message
    assert [e.step for e in steps] == list(range(1, 24)) and not steps[-1].update_ratio
    assert all(not value < float("inf") for value in steps[-1].grad_norm.values())
    assert error.node is None and "check the targets" in error.message  # the NaN is in the target, not a layer
    Trainer(arch, TrainOptions(log_every=1, max_steps=22, out_dir=tmp_path / "good"), dataset=data).run()
    kept, good = load_weights(tmp_path / "bad" / "model.pt"), load_weights(tmp_path / "good" / "model.pt")
    assert all(torch.equal(kept[key], good[key]) for key in good)  # the last good weights: those after step 22


def test_flat_parameters_train_exactly_like_separate_tensors():
    arch = _doc()
    torch.manual_seed(0)
    reference = engine.compile_model(arch)
    torch.manual_seed(0)
    model = engine.compile_model(arch)
    flat = FlatParameters(model, flat_weights=True)
    storage = flat.weights.untyped_storage().data_ptr()
    assert all(p.untyped_storage().data_ptr() == storage for p in model.parameters())
    optimizers = [torch.optim.Adam(m.parameters(), lr=0.05, fused=True) for m in (reference, model)]
    for _ in range(5):
        x = torch.randn(16, 2)
        optimizers[0].zero_grad(set_to_none=True)
        reference(x).square().mean().backward()
        optimizers[0].step()
        flat.zero_grad()
        model(x).square().mean().backward()
        optimizers[1].step()
    assert all(torch.equal(a, b) for a, b in zip(reference.parameters(), model.parameters()))
    assert torch.equal(flat.grads, _flat(p.grad for p in model.parameters()))
    assert torch.equal(flat.weights, _flat(model.parameters()))


def _stepped(recorder: str, clip=None, nan=False):
    """A monitor on a fresh model after one backward pass (grads multiplied by 10, one NaN if asked)."""
    torch.manual_seed(0)
    model = engine.compile_model(_doc())
    monitor = GradientMonitor(model, clip)
    _use(recorder, monitor, clip)
    loss = model(torch.randn(16, 2)).square().mean()
    loss.backward()
    monitor.flat.grads.mul_(10)
    if nan:
        monitor.flat.grads[3] = float("nan")
    return model, monitor, loss


@pytest.mark.parametrize("recorder", RECORDERS)
def test_norm_clipping_caps_the_total_norm_like_torch(recorder):
    model, monitor, loss = _stepped(recorder, GradClip(max_norm=1.0))
    reference = [p.grad.clone() for p in model.parameters()]
    total = float(_flat(reference).norm())
    params = [torch.nn.Parameter(torch.zeros_like(g)) for g in reference]
    for param, grad in zip(params, reference):
        param.grad = grad
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    assert monitor.check(loss, record=True)
    assert torch.allclose(monitor.flat.grads, _flat(p.grad for p in params))
    monitor.record(1, 1)
    [event] = monitor.read().events()
    assert event.clipped and event.grad_norm_clipped == pytest.approx(1.0, rel=1e-4)
    assert total > 1.0 and event.grad_norm_total == pytest.approx(total, rel=1e-5)


@pytest.mark.parametrize("recorder", RECORDERS)
def test_value_clipping_bounds_every_element(recorder):
    _, monitor, loss = _stepped(recorder, GradClip(value=0.5))
    assert monitor.check(loss, record=True)
    assert float(monitor.flat.grads.abs().max()) <= 0.5
    monitor.record(1, 1)
    [event] = monitor.read().events()
    assert event.clipped and event.grad_norm_clipped == pytest.approx(float(monitor.flat.grads.norm()), rel=1e-5)


@pytest.mark.parametrize("recorder", RECORDERS)
def test_small_gradients_are_not_reported_as_clipped(recorder):
    _, monitor, loss = _stepped(recorder, GradClip(max_norm=1e6))
    assert monitor.check(loss, record=True)
    monitor.record(1, 1)
    assert not monitor.read().events()[0].clipped


@pytest.mark.parametrize("recorder", RECORDERS)
@pytest.mark.parametrize("record", [True, False])
def test_the_check_catches_nan_and_inf_in_loss_or_gradients(recorder, record):
    _, monitor, loss = _stepped(recorder)
    grads = monitor.flat.grads.clone()
    assert monitor.check(loss, record) and torch.equal(monitor.flat.grads, grads)  # nothing changed without clipping
    assert not monitor.check(torch.tensor(float("inf")), record)
    _, monitor, loss = _stepped(recorder, nan=True)
    assert not monitor.check(loss, record)


@pytest.mark.parametrize("recorder", RECORDERS)
def test_an_unapplied_step_has_gradient_and_weight_norms_but_no_update(recorder):
    model, monitor, loss = _stepped(recorder)
    monitor.record_unapplied(4, 1, loss)
    [event] = monitor.read().events()
    assert (event.step, event.update_ratio) == (4, {})
    weights = float(_flat(model.get_submodule("scores").parameters()).norm())
    assert event.weight_norm["scores"] == pytest.approx(weights, rel=1e-5)
    assert event.loss == pytest.approx(loss.item())


def test_the_device_recorder_reads_a_batch_in_one_transfer(monkeypatch):
    """Per step one scalar (the finiteness check); the rows of every monitored step once per batch."""
    torch.manual_seed(0)
    model = engine.compile_model(_doc())
    monitor = GradientMonitor(model)
    _use("device", monitor)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    reads = []
    for method in ("tolist", "item", "__float__", "__bool__"):
        original = getattr(torch.Tensor, method)
        monkeypatch.setattr(torch.Tensor, method, lambda self, _o=original, _m=method: reads.append(_m) or _o(self))
    for step in range(1, 6):
        monitor.zero_grad()
        loss = model(torch.randn(16, 2)).square().mean()
        loss.backward()
        assert monitor.check(loss, record=True)
        optimizer.step()
        monitor.record(step, 1)
    assert reads == ["item"] * 5
    assert monitor.read().steps == [1, 2, 3, 4, 5] and reads == ["item"] * 5 + ["tolist"]


def test_profiled_steps_carry_activation_health_and_rows_stay_in_order():
    torch.manual_seed(0)
    model = engine.compile_model(_doc())
    monitor = GradientMonitor(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in range(1, 4):
        capture = monitor.capture() if step == 2 else None
        monitor.zero_grad()
        if capture:
            with capture:
                loss = model(torch.randn(16, 2)).square().mean()
        else:
            loss = model(torch.randn(16, 2)).square().mean()
        loss.backward()
        monitor.check(loss, record=True)
        optimizer.step()
        monitor.record(step, 1, capture)
    events = monitor.read().events()
    assert [e.activations is not None for e in events] == [False, True, False]
    assert events[1].activations["act"].dead_fraction is not None


def _health(module, inputs):
    """A forward pass through the monitor's capture hooks, read as the monitor reads it."""
    with Capture({"layer": module}, None) as capture:
        output = module(inputs)
    return output, capture.activations(torch.stack([s.float() for s in capture.scalars]).tolist())["layer"]


def _health(module, inputs):
    """A forward pass through the monitor's capture hooks, read as the monitor reads it."""
    with Capture({"layer": module}, None) as capture:
        output = module(inputs)
    captured = Captured.of(capture)
    return output, captured.fields(torch.cat([t.reshape(-1) for t in captured.tensors]).tolist())["activations"]["layer"]


def test_dead_relu_units_are_those_never_positive_in_the_batch():
    output, stats = _health(torch.nn.ReLU(), torch.tensor([[0.0, 1.0, -1.0, 0.0], [-3.0, 0.0, 2.0, 0.0]]))
    assert stats.dead_fraction == 0.5 and stats.saturated_fraction is None
    assert stats.mean == pytest.approx(float(output.mean()))
    assert stats.std == pytest.approx(float(output.std(correction=0)))


@pytest.mark.parametrize("module, inputs, fraction", [
    (torch.nn.Tanh(), [3.0, -3.8, 0.55, 0.0], 0.5),      # tanh 0.995, -0.999, 0.5, 0
    (torch.nn.Sigmoid(), [-5.3, 5.3, 0.0, 3.9], 0.5),    # sigmoid 0.005, 0.995, 0.5, 0.98
])
def test_saturation_counts_outputs_within_a_hundredth_of_the_bounds(module, inputs, fraction):
    _, stats = _health(module, torch.tensor([inputs]))
    assert stats.dead_fraction is None and stats.saturated_fraction == pytest.approx(fraction)


def test_the_host_recorder_is_the_cpu_default():
    assert isinstance(GradientMonitor(engine.compile_model(_doc())).recorder, HostRecorder)


def test_gradients_set_to_none_elsewhere_land_in_the_flat_vector_again():
    model = engine.compile_model(_doc())
    flat = FlatParameters(model)
    model.zero_grad(set_to_none=True)  # as code that knows nothing of the flat vector does
    flat.zero_grad()
    model(torch.randn(4, 2)).sum().backward()
    assert torch.equal(flat.grads, _flat(p.grad for p in model.parameters())) and bool(flat.grads.abs().sum() > 0)


def test_the_rules_run_on_every_row_they_could_fire_on():
    """may_fire's numpy test never skips a step on which a diagnosis rule fires."""
    generator = torch.Generator().manual_seed(0)
    magnitudes = 10.0 ** torch.randint(-8, 6, (400, 3), generator=generator).double()
    table = np.ones((400, 9))
    table[:, 1] = magnitudes[:, 0]
    table[:, 3:5] = magnitudes[:, 1:]
    table[::37, 1], table[::41, 4] = float("inf"), float("nan")
    rows = StepRows(["hidden", "scores"], list(range(1, 401)), [1] * 400, [True] * 400, table, {})
    fired = [i for i in range(400) if findings(Evidence.of(rows.event_at(i)))]
    assert fired and set(fired) <= set(may_fire(rows)) and len(may_fire(rows)) < 400


def test_a_batch_gives_the_diagnoses_and_clears_of_its_steps_one_by_one():
    """Problems that come, go (CLEAR_AFTER steps without them) and come back within one batch."""
    pattern = [1.0] * 5 + [1e-5] * 3 + [1.0] * 4 + [1e-5] + [1.0] + [5e3] * 2 + [1.0] * 3
    table = np.ones((len(pattern), 9))
    table[:, 3] = pattern  # the first layer's gradient norm: 1e-5 of the last's is vanishing
    table[:, 1] = [p if p > 1e3 else 1.0 for p in pattern]  # a total above 1e3 is exploding
    rows = StepRows(["hidden", "scores"], list(range(1, len(pattern) + 1)), [1] * len(pattern),
                    [True] * len(pattern), table, {})
    facts = ModelFacts.of(_doc())
    one_by_one = Diagnoser(facts)
    expected = [e for i in range(len(rows)) for e in one_by_one(rows.event_at(i))]
    assert [e.event for e in expected].count("cleared") == 3
    assert Diagnoser(facts).rows(rows) == expected
