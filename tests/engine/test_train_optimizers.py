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
def test_fused_updates_equal_the_default_implementation(name, reference):
    config = OptimizerConfig(name=name, lr=0.05, momentum=0.9, weight_decay=0.01)
    fast, slow = _params(), _params()
    optimizers = make_optimizer(fast, config), reference(slow, config)
    for _ in range(3):
        for optimizer in optimizers:
            optimizer.step()
    for a, b, start in zip(fast, slow, _params()):
        assert torch.allclose(a, b, atol=1e-6) and not torch.equal(a, start)


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
