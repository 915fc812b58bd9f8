"""What a trained image model sees: the feature maps of each convolution node, and a saliency map."""
from __future__ import annotations

import math

import numpy as np
import torch

from ..document import Architecture

CONVOLUTIONS = ("conv2d", "conv_transpose2d")  # image convolutions: their maps are pictures


def conv_nodes(arch: Architecture) -> list[str]:
    """Ids of the convolution nodes, in document order."""
    return [node.id for node in arch.nodes if node.type in CONVOLUTIONS]


@torch.no_grad()
def feature_maps(model: torch.nn.Module, node_ids: list[str], inputs: tuple[torch.Tensor, ...]
                 ) -> dict[str, np.ndarray]:
    """Each named node's output (C, H, W) for the first sample, in the order the forward pass reaches them."""
    maps: dict[str, np.ndarray] = {}
    hooks = [model.get_submodule(node_id).register_forward_hook(
        lambda _module, _args, output, node_id=node_id: maps.__setitem__(node_id, output[0].float().cpu().numpy()))
        for node_id in node_ids]
    try:
        model(*inputs)
    finally:
        for hook in hooks:
            hook.remove()
    return maps


def saliency(model: torch.nn.Module, inputs: tuple[torch.Tensor, ...], class_index: int) -> np.ndarray:
    """|d score(class) / d input| of the first sample, the largest over channels, scaled to [0, 1]: (H, W)."""
    image = inputs[0].detach().clone().requires_grad_(True)
    with torch.enable_grad():
        score = model(image, *inputs[1:])[0].reshape(-1)[class_index]
        (gradient,) = torch.autograd.grad(score, image)
    heat = gradient[0].abs().amax(dim=0).float().cpu().numpy()
    return heat / max(float(heat.max()), 1e-12)


def tile(maps: np.ndarray, columns: int | None = None, gap: int = 1) -> np.ndarray:
    """(C, H, W) channels, each scaled to [0, 1] on its own, laid out in a grid of `columns` (default: near square)
    as one (rows, columns) float picture, gaps NaN so a view can paint them as background."""
    channels, height, width = maps.shape
    columns = min(columns or math.ceil(math.sqrt(channels * height / width)), channels)
    rows = math.ceil(channels / columns)
    low = maps.reshape(channels, -1).min(1)[:, None, None]
    high = maps.reshape(channels, -1).max(1)[:, None, None]
    scaled = (maps - low) / np.maximum(high - low, 1e-12)
    grid = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap), np.nan, dtype=np.float32)
    for index in range(channels):
        row, column = divmod(index, columns)
        grid[row * (height + gap): row * (height + gap) + height,
             column * (width + gap): column * (width + gap) + width] = scaled[index]
    return grid
