"""The gradient monitor: its per-layer numbers equal what torch computes directly, read in one transfer."""
import pytest
import torch

from layerloom import engine
from layerloom.engine.train.gradients import Clipper, FiniteCheck
from layerloom.engine.config import GradClip
from layerloom.engine.train.events import StepEvent
from layerloom.engine.train.health import Capture
from layerloom.engine.train.monitor import GradientMonitor


def _mlp():
    torch.manual_seed(0)
    return engine.compile_model(engine.from_dict({
        "format_version": 1,
        "nodes": [
            {"id": "x", "type": "input", "params": {"shape": [4]}},
            {"id": "hidden", "type": "linear", "params": {"out_features": 8}},
            {"id": "act", "type": "relu"},
            {"id": "scores", "type": "linear", "params": {"out_features": 3}},
            {"id": "y", "type": "output"},
        ],
        "edges": [{"source": "x", "target": "hidden"}, {"source": "hidden", "target": "act"},
                  {"source": "act", "target": "scores"}, {"source": "scores", "target": "y"}],
    }))


def _flat(tensors):
    return torch.cat([t.detach().reshape(-1) for t in tensors])


def _logged_step(model, monitor, optimizer):
    x = torch.randn(16, 4)
    with monitor.capture() as capture:
        loss = model(x).square().mean()
    loss.backward()
    grads = monitor.flatten(monitor.grads())
    total = torch.linalg.vector_norm(grads)
    before = monitor.snapshot()
    optimizer.step()
    return monitor.step_event(step=1, epoch=1, loss=loss, grads=grads, total=total, total_clipped=total,
                              clipped=torch.tensor(False), before=before, capture=capture), before


def test_layer_norms_equal_norms_computed_directly_with_torch():
    model = _mlp()
    monitor = GradientMonitor(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    event, before = _logged_step(model, monitor, optimizer)
    assert monitor.nodes == ["hidden", "scores"]
    for node in ("hidden", "scores"):
        params = list(model.get_submodule(node).parameters())
        start = _flat(p for p, name in zip(before.split([p.numel() for p in monitor.params]), monitor.node_of_param)
                      if name == node)
        assert event.grad_norm[node] == pytest.approx(float(_flat(p.grad for p in params).norm()), rel=1e-5)
        assert event.weight_norm[node] == pytest.approx(float(start.norm()), rel=1e-5)
        change = float((_flat(params) - start).norm() / start.norm())
        assert event.update_ratio[node] == pytest.approx(change, rel=1e-4)
    total = float(_flat(p.grad for p in model.parameters()).norm())
    assert event.grad_norm_total == pytest.approx(total, rel=1e-5)
    assert event.activations["act"].dead_fraction is not None


def test_a_logged_step_is_read_from_the_device_in_one_transfer(monkeypatch):
    model = _mlp()
    monitor = GradientMonitor(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    reads = []
    for method in ("tolist", "item", "__float__", "__bool__"):
        original = getattr(torch.Tensor, method)
        monkeypatch.setattr(torch.Tensor, method, lambda self, _o=original, _m=method: reads.append(_m) or _o(self))
    _logged_step(model, monitor, optimizer)
    assert reads == ["tolist"]


def _health(module, inputs):
    """A forward pass through the monitor's capture hooks, read as the monitor reads it."""
    with Capture({"layer": module}, None) as capture:
        output = module(inputs)
    return output, capture.activations(torch.stack([s.float() for s in capture.scalars]).tolist())["layer"]


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


def _grads():
    torch.manual_seed(3)
    return [torch.randn(5, 5) * 10, torch.randn(5) * 10]


def test_norm_clipping_caps_the_total_norm_like_torch():
    grads, reference = _grads(), _grads()
    total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    clipper = Clipper(GradClip(max_norm=1.0))
    clipper(grads, total)
    params = [torch.nn.Parameter(torch.zeros_like(g)) for g in reference]
    for param, grad in zip(params, reference):
        param.grad = grad
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    after, clipped = clipper.after(grads, total)
    assert float(_flat(grads).norm()) == pytest.approx(1.0, rel=1e-4)
    assert float(after) == pytest.approx(1.0, rel=1e-4) and bool(clipped)
    assert torch.allclose(_flat(grads), _flat(reference))


def test_value_clipping_bounds_every_element():
    grads = _grads()
    total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    clipper = Clipper(GradClip(value=0.5))
    clipper(grads, total)
    after, clipped = clipper.after(grads, total)
    assert float(_flat(grads).abs().max()) <= 0.5 and bool(clipped)
    assert float(after) == pytest.approx(float(_flat(grads).norm()))


def test_small_gradients_are_not_reported_as_clipped():
    grads = [torch.full((3,), 0.01)]
    total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    assert not bool(Clipper(GradClip(max_norm=1.0)).after(grads, total)[1])


def test_first_non_finite_gradient_is_the_one_nearest_the_output():
    model = _mlp()
    monitor = GradientMonitor(model)
    def event(hidden: float, scores: float):
        return StepEvent.model_construct(grad_norm={"hidden": hidden, "scores": scores})
    assert monitor.first_nonfinite(event(float("nan"), float("inf"))) == "scores"
    assert monitor.first_nonfinite(event(float("nan"), 1.0)) == "hidden"
    assert monitor.first_nonfinite(event(1.0, 1.0)) is None


@pytest.mark.parametrize("fused", [True, False])
def test_finite_check_catches_nan_and_inf_in_loss_or_gradients(fused):
    check = FiniteCheck(torch.device("cpu"))
    check.fused = fused
    grads = [torch.ones(3), torch.ones(2, 2)]
    assert check(torch.tensor(1.0), grads)
    assert not check(torch.tensor(float("inf")), grads)
    grads[1][0, 1] = float("nan")
    assert not check(torch.tensor(1.0), grads)
    grads[1][0, 1] = 2.0
    assert check(torch.tensor(1.0), grads) and torch.equal(grads[1], torch.tensor([[1.0, 2.0], [1.0, 1.0]]))
