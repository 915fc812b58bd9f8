"""The standard deviation each random `init` scheme gives a weight, for the tests that check the schemes."""
import math

import torch


def expected_std(scheme: str, weight: torch.Tensor) -> float:
    receptive = math.prod(weight.shape[2:])
    fan_in, fan_out = weight.shape[1] * receptive, weight.shape[0] * receptive
    return {
        "normal_0.01": 0.01,
        "lecun_normal": math.sqrt(1 / fan_in),
        "xavier_uniform": math.sqrt(2 / (fan_in + fan_out)),
        "xavier_normal": math.sqrt(2 / (fan_in + fan_out)),
        "kaiming_uniform": math.sqrt(2 / fan_in),
        "kaiming_normal": math.sqrt(2 / fan_in),
    }[scheme]
