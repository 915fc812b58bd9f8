"""Optimizers: fused where torch has the kernel, the default elsewhere, and the same updates either way."""
import copy

import pytest
import torch

from layerloom.engine.config import OptimizerConfig
from layerloom.engine.train.optimizers import StepCall, make_optimizer

FUSED_ON_CPU = tuple(int(part) for part in torch.__version__.split(".")[:2]) >= (2, 4)


def _params():
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(5, 3)), torch.nn.Parameter(torch.randn(3))]
    for p in params:
        p.grad = torch.randn_like(p)
    return params


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw"])
def test_fusable_optimizers_are_fused_on_a_cpu_when_torch_has_the_kernel(name):
    optimizer = make_optimizer(_params(), OptimizerConfig(name=name, lr=0.1, momentum=0.9))
    assert bool(optimizer.defaults.get("fused")) == FUSED_ON_CPU


def test_rmsprop_has_no_fused_kernel_and_uses_the_default():
    optimizer = make_optimizer(_params(), OptimizerConfig(name="rmsprop", lr=0.1))
    assert isinstance(optimizer, torch.optim.RMSprop) and not optimizer.defaults.get("fused")


@pytest.mark.parametrize("name, reference", [
    ("sgd", lambda ps, c: torch.optim.SGD(ps, c.lr, momentum=c.momentum, weight_decay=c.weight_decay)),
    ("adam", lambda ps, c: torch.optim.Adam(ps, c.lr, weight_decay=c.weight_decay)),
    ("adamw", lambda ps, c: torch.optim.AdamW(ps, c.lr, weight_decay=c.weight_decay)),
])
def test_fused_training_follows_the_default_implementation(name, reference):
    """60 steps of a small regression, each gradient from the weights reached so far: the Trainer's step (fused,
    through StepCall) ends where torch's default implementation does, to float rounding."""
    config = OptimizerConfig(name=name, lr=0.01, momentum=0.9, weight_decay=0.01)
    torch.manual_seed(0)
    data, target = torch.randn(64, 8), torch.randn(64, 1)
    start = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    fast_model, slow_model = copy.deepcopy(start), copy.deepcopy(start)
    fast, slow = StepCall(make_optimizer(fast_model.parameters(), config)), reference(list(slow_model.parameters()), config)
    assert bool(fast.optimizer.defaults.get("fused")) == FUSED_ON_CPU and not slow.defaults.get("fused")
    for _ in range(60):
        for model, step in ((fast_model, fast), (slow_model, slow.step)):
            model.zero_grad(set_to_none=True)
            torch.nn.functional.mse_loss(model(data), target).backward()
            step()
    for a, b, s in zip(fast_model.parameters(), slow_model.parameters(), start.parameters()):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6) and not torch.allclose(a, s, atol=1e-3)


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd", "rmsprop"])
def test_the_step_call_updates_exactly_as_optimizer_step_also_after_a_resume(name):
    config = OptimizerConfig(name=name, lr=0.05, momentum=0.9, weight_decay=0.01)
    ours, theirs = _params(), _params()
    call, reference = StepCall(make_optimizer(ours, config)), make_optimizer(theirs, config)
    calls = []
    reference_step = call.optimizer.step
    call.optimizer.step = lambda: calls.append(1) or reference_step()
    for step in range(6):
        if step == 3:  # a resume: the state is replaced by a loaded copy
            call.optimizer.load_state_dict(copy.deepcopy(reference.state_dict()))
        for params in (ours, theirs):
            torch.manual_seed(step)
            for p in params:
                p.grad = torch.randn_like(p)
        call()
        reference.step()
        assert all(torch.equal(a, b) for a, b in zip(ours, theirs))
    fast = name in ("adam", "adamw") and FUSED_ON_CPU
    assert len(calls) == (2 if fast else 6)  # torch's own step only for the first step and the first after the resume
