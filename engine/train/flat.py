"""Flat parameters: the trainable weights' gradients as views of one vector and, on a CPU, the weights too.

As in the flat buffers of Apex and FSDP, every gradient is a view of one vector, so zeroing them is one call
and each layer's gradient is one contiguous slice; on a CPU the weights get the same treatment, so a layer's
weights and the step's update are slices too and the monitor reads a layer in one dot product. Autograd
accumulates into the views, the optimizer updates the weights in place and DistributedDataParallel copies
its averages into them, so training is unchanged (and a step on a CPU is faster: no per-tensor zeroing).
On a GPU the weights stay where they are: cuDNN's recurrent kernels want a weight buffer of their own, and
torch's multi-tensor kernels already make per-tensor work cheap there.
"""
from __future__ import annotations

import torch
from torch import nn

from ..compiler import layers


class FlatParameters:
    """A model's trainable parameters grouped by layer (node id, or dotted path inside block instances), with flat
    gradients (and CPU weights)."""

    def __init__(self, model: nn.Module, flat_weights: bool | None = None):
        groups: dict[str, list[nn.Parameter]] = {}
        for path, layer in layers(model):
            params = [p for p in layer.parameters() if p.requires_grad]
            if params:
                groups[path] = params
        self.nodes = list(groups)
        self.params = [p for ps in groups.values() for p in ps]
        self.node_of_param = [node for node, ps in groups.items() for _ in ps]
        self.sizes = [sum(p.numel() for p in ps) for ps in groups.values()]
        kinds = {(p.dtype, p.device) for p in self.params}
        if len(kinds) > 1:
            raise ValueError(f"the trainable parameters mix dtypes or devices: {sorted(map(str, kinds))}")
        dtype, device = next(iter(kinds)) if kinds else (torch.float32, torch.device("cpu"))
        self.flat_weights = device.type == "cpu" if flat_weights is None else flat_weights
        with torch.no_grad():
            self.weights = (torch.cat([p.reshape(-1) for p in self.params]) if self.flat_weights and self.params
                            else None)
            self.grads = torch.zeros(sum(self.sizes), dtype=dtype, device=device)
            offset = 0
            for p in self.params:
                end = offset + p.numel()
                if self.weights is not None:
                    p.data = self.weights[offset:end].view_as(p)
                view = self.grads[offset:end].view_as(p)
                if p.grad is not None:  # gradients computed before the parameters were flattened are kept
                    view.copy_(p.grad)
                p.grad = view
                offset = end
        self._grad_views = [p.grad for p in self.params]

    def zero_grad(self) -> None:
        """Zero every gradient in one call (re-attaching any view that other code set to None or replaced)."""
        for param, view in zip(self.params, self._grad_views):
            if param.grad is not view:
                param.grad = view
        self.grads.zero_()

    def layer_slices(self, vector: torch.Tensor) -> list[torch.Tensor]:
        """One slice of a flat vector (gradients, weights) per layer, in `nodes` order."""
        return list(vector.split(self.sizes))
