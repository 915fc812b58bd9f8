"""What each `init` scheme gives a weight, for the tests that check the schemes."""
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


def assert_orthogonal(weight: torch.Tensor) -> None:
    """The weight's rows (or columns, whichever are fewer) are orthonormal, as an orthogonal init makes them."""
    flat = weight.reshape(weight.shape[0], -1)
    gram = flat @ flat.T if flat.shape[0] <= flat.shape[1] else flat.T @ flat
    torch.testing.assert_close(gram, torch.eye(len(gram)), atol=1e-4, rtol=0)
