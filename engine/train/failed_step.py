"""After a failed step: the layer where it went wrong, and weights that are still good.

The weights a non-finite step starts from are finite, yet they made the loss or the gradient non-finite: when the
loss went, they are the product of the update before, which was already too large. So the Trainer keeps a copy of
the weights (and buffers) from before each update, one fused copy per step, and after a non-finite loss goes back
one step, keeping whichever weights give a finite loss on the failed batch.
"""
from __future__ import annotations

import warnings

import torch
from torch import nn

from ..compiler import layers


class WeightHistory:
    """The model's weights and buffers as they were before the latest optimizer update."""

    def __init__(self, model: nn.Module):
        self.model = model
        self._state = list(model.state_dict(keep_vars=False).values())  # detached views: they see in-place updates
        self._previous: list[torch.Tensor] | None = None

    def remember(self) -> None:
        """Copy the weights as they are now (called just before the optimizer updates them)."""
        if self._previous is None:
            self._previous = [t.clone() for t in self._state]
        else:
            torch._foreach_copy_(self._previous, self._state)

    def current(self) -> list[torch.Tensor]:
        """A copy of the weights and buffers as they are now."""
        return [t.clone() for t in self._state]

    def keep_finite(self, current: list[torch.Tensor], finite_on_batch, loss_was_finite: bool) -> int:
        """Load the latest weights that `finite_on_batch()` accepts and say how many updates back they are (0:
        `current`, those the failed step started from; 1: those before the previous update). After a non-finite
        loss the older weights are tried first; when neither passes, `current` is loaded."""
        tries = [(0, current)]
        if self._previous is not None:
            tries.insert(len(tries) if loss_was_finite else 0, (1, self._previous))
        for back, tensors in tries:
            torch._foreach_copy_(self._state, tensors)
            if finite_on_batch():
                return back
        torch._foreach_copy_(self._state, current)
        return 0


def locate(model: nn.Module, inputs: tuple[torch.Tensor, ...], loss_of) -> tuple[str | None, str]:
    """Where a step went non-finite: (layer, "output") for the first layer in forward order whose output is not
    finite; else (layer, "gradient") for the first layer in forward order whose gradient (to its inputs or its
    weights) is not finite although the gradient reaching its output is; else (None, "loss"): the loss itself."""
    order, bad_outputs, backward = [], set(), {}

    def forward_hook(name: str):
        def hook(_module, _args, output) -> None:
            order.append(name)
            if not _finite(output):
                bad_outputs.add(name)
        return hook

    def backward_hook(name: str):
        def hook(_module, grad_input, grad_output) -> None:
            backward[name] = (_finite(grad_output), _finite(grad_input))
        return hook

    modules = dict(layers(model))  # inside block instances too: 'stage2.1.conv1'
    handles = [m.register_forward_hook(forward_hook(n)) for n, m in modules.items()]
    handles += [m.register_full_backward_hook(backward_hook(n)) for n, m in modules.items()]
    try:
        with warnings.catch_warnings():  # torch notes hooks on a layer whose inputs need no gradient
            warnings.simplefilter("ignore")
            model.zero_grad(set_to_none=True)
            output = model(*inputs)
            first = next((name for name in order if name in bad_outputs), None)
            if first is not None:
                return first, "output"
            loss_of(output).backward()
    except RuntimeError:  # a layer the hooks cannot wrap (an in-place op on an output): the loss is all we know
        return None, "loss"
    finally:
        for handle in handles:
            handle.remove()
    for name in dict.fromkeys(order):
        reached, passed = backward.get(name, (True, True))
        weights = all(p.grad is None or bool(torch.isfinite(p.grad).all()) for p in modules[name].parameters())
        if reached and not (passed and weights):
            return name, "gradient"
    return None, "loss"


def failing_layer(model: nn.Module, inputs: tuple[torch.Tensor, ...]) -> str | None:
    """The layer in which running `model` on `inputs` raises (it runs again, watched), or None."""
    running: list[str] = []
    modules = dict(layers(model))  # inside block instances too: 'stage2.1.conv1'
    handles = [m.register_forward_pre_hook(lambda *_, n=n: running.append(n)) for n, m in modules.items()]
    handles += [m.register_forward_hook(lambda *_, n=n: running.remove(n)) for n, m in modules.items()]
    try:
        with torch.no_grad():
            model(*inputs)
    except Exception:  # the failure being located
        return running[-1] if running else None
    finally:
        for handle in handles:
            handle.remove()
    return None


def _finite(value) -> bool:
    """Whether every floating-point tensor in `value` (a tensor, or nested tuples of them) is finite."""
    if isinstance(value, torch.Tensor):
        return not value.is_floating_point() or bool(torch.isfinite(value.detach()).all())
    if isinstance(value, (tuple, list)):
        return all(_finite(item) for item in value)
    return True
