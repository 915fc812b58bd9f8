"""Weight initialization schemes named in documents."""
from __future__ import annotations

import math

import torch
from torch import nn

from .registry import WeightedParams


def _lecun_normal(weight: torch.Tensor) -> None:
    fan_in, _ = nn.init._calculate_fan_in_and_fan_out(weight)
    with torch.no_grad():
        weight.normal_(0.0, math.sqrt(1.0 / fan_in))


def _normal_001(weight: torch.Tensor) -> None:
    nn.init.normal_(weight, 0.0, 0.01)


SCHEMES = {
    "normal_0.01": _normal_001,
    "lecun_normal": _lecun_normal,
    "xavier_uniform": nn.init.xavier_uniform_,
    "xavier_normal": nn.init.xavier_normal_,
    "kaiming_uniform": lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu"),
    "kaiming_normal": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
    "orthogonal": nn.init.orthogonal_,
}


def apply_init(module: nn.Module, params: WeightedParams) -> nn.Module:
    """Re-initialize weights (tensors of rank >= 2) by `params.init`, zero the biases, then scale by the gain;
    an embedding's padding row stays zero."""
    if params.init == "default" and params.init_gain == 1.0:
        return module
    with torch.no_grad():
        for name, tensor in module.named_parameters():
            is_weight = tensor.dim() >= 2 and "weight" in name
            if params.init != "default":
                if is_weight:
                    SCHEMES[params.init](tensor)
                elif "bias" in name:
                    tensor.zero_()
            if is_weight and params.init_gain != 1.0:
                tensor.mul_(params.init_gain)
        if getattr(module, "padding_idx", None) is not None:
            module.weight[module.padding_idx].zero_()
    return module
