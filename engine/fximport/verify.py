"""Nothing imported is silently wrong: the two traces agree, and the document computes what the original does
on the same inputs in training and eval mode, or the import is refused with the first node that differs."""
from __future__ import annotations

import contextlib
import warnings
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import fx, nn

from ..compiler import compile_model
from ..document import Architecture
from ..layers.patterns import TRAINING
from .convert import GraphConverter
from .values import ImportFailure
from .values import class_text, describe

EXAMPLE_BATCH = 2  # the batch of the run that finds sizes and shared memory
VERIFY_BATCH = 3   # another batch for the check, so that a size that was the batch's is caught
TOLERANCE = 1e-5   # relative to the largest output value (at least 1)


class InputMeta(NamedTuple):
    """A forward argument as an input node: per-sample shape, dtype, the id bound of int64 token ids, and
    where the model takes the batch (see Port.layout)."""

    shape: list[int]
    dtype: str
    high: int = 2
    layout: str = "batch"


def example_inputs(metas: dict[str, InputMeta], batch: int, seed: int) -> list[torch.Tensor]:
    """Random inputs laid out as the document takes them (batch first)."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(0, m.high, (batch, *m.shape), generator=generator) if m.dtype == "int64"
            else torch.randn((batch, *m.shape), generator=generator) for m in metas.values()]


def torch_layout(inputs: list[torch.Tensor], metas: dict[str, InputMeta]) -> list[torch.Tensor]:
    """The same inputs as the original module takes them: time-major ones with the batch second."""
    return [x.transpose(0, 1).contiguous() if m.layout == "time" else x for x, m in zip(inputs, metas.values())]


def document_layout(value: torch.Tensor, layout: str, shape) -> torch.Tensor:
    """A value of the original, laid out as the document's of `shape` (N, T, ...)."""
    if layout == "time":
        return value.transpose(0, 1)
    if layout == "flat":
        return value.reshape(shape[1], shape[0], *shape[2:]).transpose(0, 1)
    return value


def same_in_both_modes(train: fx.GraphModule, evaluation: fx.GraphModule) -> dict[fx.Node, tuple]:
    """Refuse a forward whose code depends on self.training (beyond a flag passed to a call, as F.dropout takes
    it). Returns the (args, kwargs) of the calls given such a flag, True when traced in training mode and False
    in eval mode, with the flag as TRAINING."""
    index, flagged = {}, {}
    for node, other in zip(train.graph.nodes, evaluation.graph.nodes):
        if (node.op, node.target) == (other.op, other.target):
            args = _mode_flags(node.args, other.args, index)
            kwargs = _mode_flags(node.kwargs, other.kwargs, index)
            if args is not None and kwargs is not None:
                if (args, kwargs) != (node.args, node.kwargs):
                    flagged[node] = (args, kwargs)
                index[node], index[other] = len(index), len(index)
                continue
        where = describe(other, evaluation) if node.op == "output" else describe(node, train)
        raise ImportFailure(f"{where}: forward computes differently in training and eval mode "
                            "here (it reads self.training): LayerLoom layers differ between the modes only as "
                            "dropout and batch norm do")
    if len(train.graph.nodes) != len(evaluation.graph.nodes):
        raise ImportFailure(f"{type(train).__name__}: forward computes differently in training and eval mode "
                            "(it reads self.training)")
    return flagged


def _mode_flags(train_args, eval_args, index: dict):
    """`train_args` with the flags that follow the mode as TRAINING, or None when the calls differ otherwise."""
    if isinstance(train_args, fx.Node) or isinstance(eval_args, fx.Node):
        same = isinstance(train_args, fx.Node) and isinstance(eval_args, fx.Node)
        return train_args if same and index.get(train_args) == index.get(eval_args) else None
    if isinstance(train_args, (tuple, list)) and type(train_args) is type(eval_args):
        if len(train_args) != len(eval_args):
            return None
        items = [_mode_flags(a, b, index) for a, b in zip(train_args, eval_args)]
        return None if any(i is None and a is not None for i, a in zip(items, train_args)) else type(train_args)(items)
    if isinstance(train_args, dict) and isinstance(eval_args, dict) and train_args.keys() == eval_args.keys():
        items = {k: _mode_flags(v, eval_args[k], index) for k, v in train_args.items()}
        return None if any(items[k] is None and v is not None for k, v in train_args.items()) else items
    if train_args is True and eval_args is False:
        return TRAINING
    return train_args if type(train_args) is type(eval_args) and train_args == eval_args else None


def compare_modes(original: nn.Module, arch: Architecture, converter: GraphConverter,
                  metas: dict[str, InputMeta], traces: dict[bool, fx.GraphModule]) -> dict[str, float]:
    """The largest output difference in each mode between the original and the compiled document, run on the
    same inputs from the same random state (the original's weights and modes are restored afterwards);
    ImportFailure when one is over TOLERANCE."""
    compiled = compile_model(arch)
    compiled.load_state_dict(converter.weights)
    inputs = example_inputs(metas, VERIFY_BATCH, seed=1)
    originals = torch_layout(inputs, metas)
    state = {k: v.clone() for k, v in original.state_dict(keep_vars=False).items()}
    modes = {m: m.training for m in original.modules()}
    differences, lines = {}, []
    try:
        for mode in ("eval", "train"):
            with _dropout_by_value(converter.relaid_random):
                want = _run(original, originals, mode == "train")
                got = _run(compiled, inputs, mode == "train")
            differences[mode] = 0.0
            for name, a, b in zip(compiled.output_names, want, got):
                a = document_layout(a, converter.layouts.get(name, "batch"), b.shape)
                difference = _difference(a, b)
                differences[mode] = max(differences[mode], difference)
                scale = max(1.0, a.abs().max().item()) if a.is_floating_point() and a.numel() else 1.0
                if difference > TOLERANCE * scale:
                    where = _first_difference(converter, traces, compiled, (originals, inputs), mode == "train")
                    lines.append(f"in {mode} mode the document's output '{name}' differs from the original's by "
                                 f"{difference:.3g}{where}")
    finally:
        original.load_state_dict(state)
        for m, mode in modes.items():
            m.training = mode
    if lines:
        raise ImportFailure(lines)
    return differences


@contextlib.contextmanager
def _dropout_by_value(active: bool):
    """While active, dropout keeps or drops each element by its value rather than by a random draw in memory
    order, so that a time-major model and its batch-first document drop the same elements."""
    if not active:
        yield
        return
    original = F.dropout

    def dropout(input, p=0.5, training=True, inplace=False):
        if not training or p == 0.0:
            return input
        keep = torch.frac(torch.sin(input * 12.9898 + 78.233).abs() * 43758.5453) >= p
        return input * keep / (1.0 - p)

    F.dropout = dropout
    try:
        yield
    finally:
        F.dropout = original


def _run(model: nn.Module, inputs: list[torch.Tensor], training: bool) -> tuple:
    model.train(training)
    with torch.no_grad(), torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(0)
        result = model(*inputs)
    return result if isinstance(result, tuple) else (result,)


def _difference(a, b) -> float:
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)) or a.shape != b.shape or a.dtype != b.dtype:
        return float("inf")
    return (a.double() - b.double()).abs().max().item() if a.numel() else 0.0


def _first_difference(converter: GraphConverter, traces: dict[bool, fx.GraphModule], compiled: fx.GraphModule,
                      inputs, training: bool) -> str:
    """'; the first node that differs is relu (...) at models.py:12', from both graphs run node by node (the
    original's as traced in the same mode)."""
    want, got = _values(traces[training], inputs[0], training), _values(compiled, inputs[1], training)
    for node_id, source in converter.sources.items():
        a, b = want.get(source.name), got.get(node_id)
        a = a[0] if isinstance(a, tuple) else a
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            continue
        if _difference(document_layout(a, converter.layouts.get(node_id, "batch"), b.shape), b) > TOLERANCE:
            return f"; the first node that differs is {describe(source, converter.root)}"
    return ""


def _values(module: fx.GraphModule, inputs, training: bool) -> dict[str, Any]:
    """Each node's value (tensors copied when made, so that later in-place calls do not change them)."""
    values = {}

    class Recorder(fx.Interpreter):
        def run_node(self, n):
            result = super().run_node(n)
            values[n.name] = result.clone() if isinstance(result, torch.Tensor) else result
            return result

    modes = {m: m.training for m in module.modules()}
    module.train(training)
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=[]), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.manual_seed(0)
            Recorder(module).run(*inputs)
    finally:
        for m, mode in modes.items():
            m.training = mode
    return values


def unused_parameters(module: nn.Module, converter: GraphConverter) -> list[str]:
    """One line per module whose parameters or buffers no document node holds: forward never uses them."""
    counts: dict[str, int] = {}
    for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
        if id(tensor) not in converter.used:
            owner = name.rpartition(".")[0]
            counts[owner] = counts.get(owner, 0) + tensor.numel()
    return [f"self.{owner or '(top)'} ({class_text(type(module.get_submodule(owner)))}): {count:,} parameter values "
            "that forward never uses are left out" for owner, count in counts.items()]
