"""Running the traced graph once on example inputs: every node's torch shape, dtype and storage, so that sizes
read in forward (x.size(1), x.shape[2]) are known numbers and tensors that share memory are known."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import torch
from torch import fx

from .values import ImportFailure, describe


@dataclass(frozen=True)
class TensorInfo:
    """What one run showed of a node's tensor; tensors with the same `storage` alias each other."""

    shape: tuple[int, ...]
    dtype: torch.dtype
    storage: int


def _info(value) -> Any:
    if isinstance(value, torch.Tensor):
        return TensorInfo(tuple(value.shape), value.dtype, value.untyped_storage().data_ptr())
    if isinstance(value, torch.Size):
        return tuple(value)
    if isinstance(value, (tuple, list)):
        return type(value)(_info(v) for v in value)
    return value


class _Recorder(fx.Interpreter):
    def __init__(self, module: fx.GraphModule):
        super().__init__(module, garbage_collect_values=False)  # no storage is freed and reused during the run
        self.infos: dict[fx.Node, Any] = {}

    def run_node(self, n: fx.Node) -> Any:
        try:
            result = super().run_node(n)
        except Exception as error:
            lines = str(error).strip().splitlines()
            raise _NodeError(n, f"{type(error).__name__}: {lines[0] if lines else ''}") from None
        self.infos[n] = _info(result)
        return result


class _NodeError(Exception):
    def __init__(self, node: fx.Node, message: str):
        super().__init__(message)
        self.node, self.message = node, message  # fx adds its own lines to the exception's text


def propagate(graph_module: fx.GraphModule, inputs: list[torch.Tensor], shapes: str) -> dict[fx.Node, Any]:
    """Each node's TensorInfo (tuples of them for tuples; plain values such as sizes as they are), from one run
    in eval mode without gradients; the modules' modes are left as they were. ImportFailure naming the node
    when the model fails on inputs of these `shapes` (a text for the message)."""
    modes = {m: m.training for m in graph_module.modules()}
    recorder = _Recorder(graph_module)
    try:
        graph_module.eval()
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the model's own warnings say nothing about importing it
            recorder.run(*inputs)
    except _NodeError as error:
        raise ImportFailure(f"{describe(error.node, graph_module)}: running the model on inputs {shapes} failed: "
                            f"{error.message}: are the input shapes right?") from None
    finally:
        for m, mode in modes.items():
            m.training = mode
    return recorder.infos
