"""Block-built ResNet-18 and VGG-16 compute what torchvision's hand-written modules compute, given the same weights.

The parameters and buffers are matched in order (both register them in forward order) and must agree in shape;
outputs, every parameter's gradient and the input's gradient must then be equal, and the parameter counts exact.
"""
from __future__ import annotations

import pytest
import torch

from block_models import RESNET18, VGG16, ResNet18, VGG16Net
from layerloom import engine

CASES = {"resnet18": (RESNET18, ResNet18, 11_689_512), "vgg16": (VGG16, VGG16Net, 15_245_130)}


def twins(name: str):
    document, reference, _ = CASES[name]
    torch.manual_seed(0)
    compiled, reference = engine.compile_model(engine.from_dict(document)), reference()
    ours, theirs = compiled.state_dict(), reference.state_dict()
    assert [t.shape for t in ours.values()] == [t.shape for t in theirs.values()]
    reference.load_state_dict(dict(zip(theirs, ours.values())))
    return compiled, reference


def _run(model, x: torch.Tensor):
    x = x.clone().requires_grad_()
    torch.manual_seed(1)  # the same dropout masks: both draw them in the same order
    out = model(x)
    (out * torch.randn(out.shape, generator=torch.Generator().manual_seed(2))).sum().backward()
    return out, [p.grad for p in model.parameters()], x.grad


@pytest.mark.parametrize("name", sorted(CASES))
def test_block_built_model_equals_the_hand_written_one(name):
    compiled, reference = twins(name)
    assert sum(p.numel() for p in compiled.parameters()) == CASES[name][2]
    assert sum(p.numel() for p in reference.parameters()) == CASES[name][2]
    x = torch.randn(2, 3, 32, 32)
    out, grads, x_grad = _run(compiled, x)
    ref_out, ref_grads, ref_x_grad = _run(reference, x)
    torch.testing.assert_close(out, ref_out)
    assert len(grads) == len(ref_grads)
    for grad, ref_grad in zip(grads, ref_grads):
        torch.testing.assert_close(grad, ref_grad)
    torch.testing.assert_close(x_grad, ref_x_grad)
    torch.testing.assert_close(list(compiled.state_dict().values()), list(reference.state_dict().values()))


def test_state_dict_keys_follow_the_instances():
    keys = list(engine.compile_model(engine.from_dict(RESNET18)).state_dict())
    assert "layer1.1.conv2.weight" in keys and "layer2.first.proj.weight" in keys and "layer4.rest.bn2.running_var" in keys
    report = engine.check(engine.from_dict(RESNET18))[1]
    assert report.total_params == 11_689_512 and report.nodes["layer4"].params == 8_393_728
