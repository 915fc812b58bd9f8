"""A torch module as a LayerLoom document, plus the state_dict its compiled model loads."""
from __future__ import annotations

import math
import operator
import re
from typing import NamedTuple, Sequence

import torch
import torch.nn.functional as F
from torch import fx, nn

from ..compiler import compile_model
from ..document import Architecture
from ..layers.registry import shape_text
from ..layout import auto_layout
from ..validate import check
from .convert import GraphConverter
from .hierarchy import with_blocks
from .mapping import CALLS, CHAINS, EXPORTED, MODULES
from .propagate import propagate
from .trace import optional_arguments, trace
from .values import ImportFailure, describe, target_text
from .verify import (EXAMPLE_BATCH, VERIFY_BATCH, InputMeta, compare_modes, example_inputs, same_in_both_modes,
                     torch_layout, unused_parameters)


class Imported(NamedTuple):
    """An imported module: the document, the weights its compiled model loads, the parameters forward never
    uses (one line per module), and the largest output difference from the original in each mode."""

    document: Architecture
    weights: dict[str, torch.Tensor]
    unused: list[str]
    difference: dict[str, float]


def import_module(module: nn.Module, input_shapes: Sequence[Sequence[int]] | None = None,
                  name: str | None = None, flat: bool = False) -> Imported:
    """Trace `module` with torch.fx and map it to a laid-out document and the module's weights keyed like
    `compile_model(document).state_dict()`. `input_shapes` are per-sample (no batch dimension), one per
    forward argument; an input read only by linear layers may be left out (None). The result is checked by
    running the original and the compiled document on the same inputs in training and eval mode. The module's
    hierarchy is kept as blocks (hierarchy.py) unless `flat`. Raises ImportFailure listing everything that has
    no faithful LayerLoom equivalent."""
    cls = type(module)
    module = whole(module)
    absent = optional_arguments(module, None if input_shapes is None else len(input_shapes))
    traces = {mode: trace(module, training=mode, absent=absent) for mode in (True, False)}
    graph_module = traces[True]
    _float32_weights(graph_module)
    flagged = same_in_both_modes(graph_module, traces[False])
    metas = _input_metas(graph_module, input_shapes)
    inputs = torch_layout(example_inputs(metas, EXAMPLE_BATCH, seed=0), metas)
    infos = propagate(graph_module, inputs, _shapes_text(metas))
    converter = GraphConverter(graph_module, metas, infos, flagged)
    converter.run()
    if converter.problems:
        raise ImportFailure(converter.problems)
    arch = Architecture(
        name=(name or cls.__name__)[:200], nodes=converter.nodes, edges=converter.edges,
        description=f"Imported from {cls.__module__}.{cls.__qualname__} with torch.fx.",
    )
    arch = auto_layout(arch)
    _verify(arch, converter)
    difference = compare_modes(module, arch, converter, metas, traces)
    weights = converter.weights
    if not flat:
        arch, weights = _blocked(arch, converter, metas)
    return Imported(arch, weights, unused_parameters(module, converter), difference)


def _blocked(arch: Architecture, converter: GraphConverter, metas: dict) -> tuple[Architecture, dict]:
    """The document with the module's hierarchy as blocks, once it computes what the flat one does with the
    same weights (else the flat document: it is the one checked against the original)."""
    blocked, weights = with_blocks(arch, converter.sources, converter.weights)
    if not blocked.blocks or check(blocked)[0]:
        return arch, converter.weights
    inputs = example_inputs(metas, VERIFY_BATCH, seed=2)
    models = []
    for document, state in ((arch, converter.weights), (blocked, weights)):
        model = compile_model(document)
        if model.state_dict().keys() != state.keys():
            return arch, converter.weights
        model.load_state_dict(state)
        with torch.no_grad():
            models.append(model.eval()(*inputs))
    same = all(torch.equal(a, b) for a, b in zip(*(m if isinstance(m, tuple) else (m,) for m in models)))
    return (auto_layout(blocked), weights) if same else (arch, converter.weights)


class Whole(nn.Module):
    """A module that LayerLoom maps as a whole (nn.TransformerEncoderLayer, nn.MultiheadAttention), imported by
    itself: torch.fx traces a model's children as calls, never the model itself. Attention attends to its one
    input and returns its output and every head's weights, as the layer's two ports do; a recurrent module
    returns its output sequence."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", type(module).__name__).lower()   # the node's id
        self.add_module(self.name, module)

    def forward(self, x):
        module = getattr(self, self.name)
        if isinstance(module, nn.MultiheadAttention):
            out, weights = module(x, x, x, average_attn_weights=False)
            return out, weights
        if isinstance(module, nn.RNNBase):
            out, _ = module(x)
            return out
        return module(x)


def whole(module: nn.Module) -> nn.Module:
    """`module`, or a Whole around it when LayerLoom maps its class to layers (its weights keep their names)."""
    kind = type(module)
    maps = kind in MODULES or kind in CALLS or kind in CHAINS or getattr(module, "layerloom_type", None) in EXPORTED
    return Whole(module) if maps else module


def _float32_weights(root: fx.GraphModule) -> None:
    """LayerLoom models are float32: a module holding other floats is refused before anything runs."""
    lines = []
    for node in root.graph.nodes:
        if node.op == "call_module":
            module = root.get_submodule(node.target)
            dtypes = {t.dtype for t in [*module.parameters(), *module.buffers()] if t.is_floating_point()}
            if dtypes - {torch.float32}:
                found = ", ".join(sorted(str(d).removeprefix("torch.") for d in dtypes - {torch.float32}))
                lines.append(f"{describe(node, root)}: weights are {found}; LayerLoom models are float32")
    if lines:
        raise ImportFailure(lines)


def _input_metas(root: fx.GraphModule, shapes: Sequence[Sequence[int]] | None) -> dict[str, tuple]:
    """Shape and dtype of each forward argument that becomes an input node (one with a default that
    nothing reads does not); int64 for token ids read by an embedding."""
    inputs = [n for n in root.graph.nodes  # an optional or *args argument nothing reads is no input
              if n.op == "placeholder" and (n.users or not (n.args or n.target.startswith("*")))]
    if shapes is not None and len(shapes) != len(inputs):
        names = ", ".join(n.name for n in inputs)
        raise ImportFailure(
            f"the model has {len(inputs)} input(s) ({names}) but {len(shapes)} input shape(s) were given")
    metas, missing = {}, []
    for index, node in enumerate(inputs):
        modules = [root.get_submodule(u.target) for u in node.users if u.op == "call_module"]
        shape = list(shapes[index]) if shapes is not None else _inferred_shape(node, modules)
        if shape is None:
            missing.append(f"input '{node.name}' needs its shape per sample, without the batch dimension "
                           "(--input-shape, e.g. 1,28,28): only an input read by linear layers alone has one inferred")
        bound = _id_bound(node, root)
        dtype = "float32" if bound is None else "int64"
        metas[node.name] = InputMeta(shape, dtype, bound or 2, _input_layout(node, root))
    if missing:
        raise ImportFailure(missing)
    return metas


def _shapes_text(metas: dict[str, InputMeta]) -> str:
    return ", ".join(f"{name} (N, {', '.join(map(str, m.shape))})" for name, m in metas.items())


_SAME_IDS = {"long", "int", "to", "type", "view", "reshape", "transpose", "permute", "contiguous", "t", "flatten",
             "unsqueeze", operator.getitem, getattr, torch.transpose, torch.flatten, torch.reshape}


def _id_bound(node: fx.Node, root: fx.GraphModule) -> int | None:
    """For token ids (an input that reaches an embedding or F.one_hot, through casts, views and transposes): the
    smallest vocabulary they index; None for other inputs."""
    bounds, todo = [], [node]
    while todo:
        for user in todo.pop().users:
            module = root.get_submodule(user.target) if user.op == "call_module" else None
            if isinstance(module, nn.Embedding):
                bounds.append(module.num_embeddings)
            elif user.target is F.one_hot:
                bounds.append((*user.args[1:], user.kwargs.get("num_classes", 2))[0])
            elif user.op in ("call_method", "call_function") and user.target in _SAME_IDS:
                todo.append(user)
    return min(bounds) if bounds else None


def _is_swap(node: fx.Node) -> bool:
    """x.T, x.t(), x.transpose(0, 1), x.permute(1, 0, ...): the batch moves between dimensions 0 and 1."""
    if node.target is getattr:
        return node.args[1] == "T"
    dims = [d for d in node.args[1:] if isinstance(d, int)]
    if node.target in ("transpose", "swapaxes", torch.transpose, torch.swapaxes):
        return sorted(dims) == [0, 1]
    return node.target == "t" or (node.target in ("permute", torch.permute) and dims[:2] == [1, 0])


_SAME_LAYOUT = {"long", "int", "float", "to", "type", "contiguous", F.one_hot, F.dropout, F.embedding}


def _input_layout(node: fx.Node, root: fx.GraphModule) -> str:
    """'time' for an input the model takes time-major: one that reaches a recurrent layer's time-major input, or
    its initial state, through embeddings, one-hot encodings, dropout and casts, transposed an even number of
    times; 'batch' otherwise."""
    todo = [(node, False)]
    while todo:
        value, swapped = todo.pop()
        for user in value.users:
            module = root.get_submodule(user.target) if user.op == "call_module" else None
            if type(module) in (nn.RNN, nn.LSTM, nn.GRU) and not module.batch_first and value in user.args[:2]:
                return "batch" if swapped else "time"
            if user.op in ("call_method", "call_function") and _is_swap(user):
                todo.append((user, not swapped))
            elif isinstance(module, (nn.Embedding, nn.Dropout)) or user.target in _SAME_LAYOUT:
                todo.append((user, swapped))
    return "batch"


def _inferred_shape(node: fx.Node, modules: list[nn.Module]) -> list[int] | None:
    """(in_features,) when the input is read only by linear layers, all of one input size (and by x.size())."""
    sizes_only = [u for u in node.users
                  if u.target in ("size", "dim") or (u.target is getattr and u.args[1] == "shape")]
    if len(modules) + len(sizes_only) != len(node.users) or any(type(m) is not nn.Linear for m in modules):
        return None
    sizes = {m.in_features for m in modules}
    return [sizes.pop()] if len(sizes) == 1 else None


def _verify(arch: Architecture, converter: GraphConverter) -> None:
    """The document is valid, every x.view(-1, ...) kept the batch, and the compiled model's weights have
    the module's names and shapes."""
    problems, report = check(arch)
    if problems:
        raise ImportFailure([str(p) for p in problems])
    lines = []
    for node_id, (shape, node) in converter.expected_shapes.items():
        got = report.nodes[node_id].outputs["out"].shape
        if got != shape:
            lines.append(f"{describe(node, converter.root)}: changes the batch dimension: a sample "
                         f"has {math.prod(got):,} values, not {math.prod(shape):,}; use x.view(x.size(0), ...)")
    if lines:
        raise ImportFailure(lines)
    compiled = compile_model(arch).state_dict()
    for key in sorted(compiled.keys() | converter.weights.keys()):
        want, have = compiled.get(key), converter.weights.get(key)
        if want is None or have is None or want.shape != have.shape:
            where = f"{key} is {_describe(have)} in the module but {_describe(want)} in the document"
            lines.append(f"node '{key.split('.')[0]}': {where}: are the input shapes right?")
    if lines:
        raise ImportFailure(lines)


def _describe(tensor: torch.Tensor | None) -> str:
    return "missing" if tensor is None else f"of shape {shape_text(tuple(tensor.shape))}"


__all__ = ["Imported", "import_module", "target_text"]
