"""Turns a traced module into a LayerLoom document and a state_dict keyed like the compiled model."""
from __future__ import annotations

import dataclasses
import operator
from typing import Any, Sequence

import torch
from pydantic import ValidationError
from torch import fx, nn

from ..document import Edge, free_id, make_node
from .mapping import BATCH, FUNCTIONS, METHODS, MODULES, RECURRENT, Layer, Port, Unsupported, require, tensor_index


class ImportFailure(ValueError):
    """A module that cannot be imported; `lines` gives every reason, one per line."""

    def __init__(self, lines: Sequence[str] | str):
        self.lines = [lines] if isinstance(lines, str) else list(lines)
        super().__init__("\n".join(self.lines))


@dataclasses.dataclass(frozen=True)
class Recurrent:
    """The (output, final state) tuple a recurrent module returns."""

    node: str
    lstm: bool
    bidirectional: bool


@dataclasses.dataclass(frozen=True)
class FinalState:
    """A recurrent module's final state in torch's (layers * directions, N, H) layout: `h`, `c` or the (h, c) pair."""

    of: Recurrent
    part: str


class Sizes:
    """x.size() or x.shape: only its first entry, the batch size, is importable."""


FAILED = object()  # the value of a node that could not be mapped; a call whose only fault is using it is not reported


def target_text(node: fx.Node, root: nn.Module) -> str:
    """What an fx node calls, as a user reads it: 'self.rnn, torch.nn.LSTM', 'torch.sin', 'Tensor.mul'."""
    if node.op == "call_module":
        cls = type(root.get_submodule(node.target))
        public = getattr(nn, cls.__name__, None) is cls
        name = f"torch.nn.{cls.__name__}" if public else f"{cls.__module__}.{cls.__qualname__}"
        return f"self.{node.target}, {name}"
    if node.op == "call_function":
        module = getattr(node.target, "__module__", None)
        module = {"_operator": "operator", "torch._C._nn": "torch.nn.functional"}.get(module, module)
        return f"{module}.{node.target.__name__}" if module else node.target.__name__
    if node.op == "call_method":
        return f"Tensor.{node.target}"
    return {"get_attr": f"self.{node.target}", "placeholder": "input", "output": "return"}[node.op]


class GraphConverter:
    """One pass over the fx graph, in order: each node becomes a document node, a port, or a reported problem."""

    def __init__(self, root: fx.GraphModule, inputs: dict[str, tuple[list[int], str]]):
        self.root, self.inputs = root, inputs
        self.nodes: list = []
        self.edges: list[Edge] = []
        self.weights: dict[str, torch.Tensor] = {}
        self.expected_shapes: dict[str, tuple[tuple[int, ...], fx.Node]] = {}
        self.problems: list[str] = []
        self.values: dict[fx.Node, Any] = {}
        self.owners: dict[int, str] = {}  # id of a parameter or buffer -> the path of the module holding it
        self.called: set[str] = set()
        self.ids: set[str] = set()

    def run(self) -> None:
        for node in self.root.graph.nodes:
            try:
                self.values[node] = getattr(self, f"_{node.op}")(node)
            except Unsupported as error:
                self.problems.append(f"{node.name} ({target_text(node, self.root)}): {error}")
                self.values[node] = FAILED

    def _value(self, arg):
        return fx.node.map_aggregate(arg, lambda a: self.values[a] if isinstance(a, fx.Node) else a)

    def _placeholder(self, node: fx.Node):
        if node.name not in self.inputs:  # an optional argument the model never reads
            return FAILED
        shape, dtype = self.inputs[node.name]
        return self._add(node, Layer("input", {"shape": shape, "dtype": dtype}))

    def _get_attr(self, node: fx.Node):
        raise Unsupported("a parameter or buffer used directly in forward: only layers' own weights can be imported")

    def _call_module(self, node: fx.Node):
        module = self.root.get_submodule(node.target)
        convert = MODULES.get(type(module))
        require(convert is not None, "no LayerLoom layer for this module")
        require(not (module._forward_hooks or module._forward_pre_hooks), "forward hooks are not imported")
        layer = convert(module)
        require(len(node.args) == 1 and not node.kwargs,
                "called with an initial state: LayerLoom's state port is batch-first, torch's is not"
                if isinstance(module, RECURRENT) else "called with more than one argument")
        state = module.state_dict()
        if state:
            require(node.target not in self.called, "called more than once: LayerLoom layers do not share weights")
            self._check_weights(module)
            self.called.add(node.target)
            self.owners |= {id(tensor): node.target for tensor in [*module.parameters(), *module.buffers()]}
        value = self._add(node, dataclasses.replace(layer, inputs=(self._value(node.args[0]),)))
        if value is FAILED or layer.type is None:
            return value
        self.weights |= {f"{value.node}.{key}": tensor.detach().cpu().clone() for key, tensor in state.items()}
        if isinstance(module, RECURRENT):
            return Recurrent(value.node, isinstance(module, nn.LSTM), module.bidirectional)
        return value

    def _check_weights(self, module: nn.Module) -> None:
        for tensor in [*module.parameters(), *module.buffers()]:
            owner = self.owners.get(id(tensor))
            require(owner is None, f"shares a weight with self.{owner} (tied weights)")
            require(not tensor.is_floating_point() or tensor.dtype == torch.float32,
                    f"weights are {str(tensor.dtype).removeprefix('torch.')}; LayerLoom models are float32")

    def _call_function(self, node: fx.Node):
        args, kwargs = self._value(node.args), self._value(node.kwargs)
        if node.target is operator.getitem:
            return self._getitem(node, *args)
        if node.target is getattr and args[1:] == ("shape",):
            return FAILED if args[0] is FAILED else Sizes()
        convert = FUNCTIONS.get(node.target)
        require(convert is not None, "no LayerLoom layer for this function")
        return self._call(node, convert, args, kwargs)

    def _call_method(self, node: fx.Node):
        args, kwargs = self._value(node.args), self._value(node.kwargs)
        if node.target == "size":
            dims = (*args[1:], *kwargs.values())
            require(dims in ((), (0,)), "only the batch size, x.size(0), can be imported")
            return FAILED if args[0] is FAILED else (BATCH if dims else Sizes())
        convert = METHODS.get(node.target)
        require(convert is not None, "no LayerLoom layer for this tensor method")
        return self._call(node, convert, args, kwargs)

    def _call(self, node: fx.Node, convert, args: tuple, kwargs: dict):
        if _holds_failed((args, kwargs)):
            return FAILED
        try:
            layer = convert(*args, **kwargs)
        except TypeError as error:  # arguments that do not fit torch's signature as the table knows it
            raise Unsupported(f"unexpected arguments ({error})") from None
        return self._add(node, layer)

    def _getitem(self, node: fx.Node, container, item):
        if container is FAILED:
            return FAILED
        if isinstance(container, Recurrent):
            require(item in (0, 1, -1, -2), f"index {item!r} of a recurrent layer's (output, state) tuple")
            return Port(container.node) if item in (0, -2) else FinalState(container, "pair" if container.lstm else "h")
        if isinstance(container, FinalState) and container.part == "pair":
            require(item in (0, 1, -1, -2), f"index {item!r} of an LSTM's (h, c) state")
            return FinalState(container.of, "h" if item in (0, -2) else "c")
        if isinstance(container, FinalState):
            require(container.part == "h" and item == -1 and not container.of.bidirectional,
                    "a final state is (layers * directions, N, H): only h[-1] of a one-way layer, its output's "
                    "last step, can be imported")
            return self._add(node, Layer("last_step", {}, (Port(container.of.node),)), f"{container.of.node}_last")
        if isinstance(container, Sizes):
            require(item == 0, "only the batch size, x.shape[0], can be imported")
            return BATCH
        layer = tensor_index(container, item)
        return self._add(node, layer, f"{container.node}_last" if isinstance(container, Port) else node.name)

    def _output(self, node: fx.Node):
        result = node.args[0]
        require(not isinstance(result, (list, dict)),
                "returns a list or dict: a LayerLoom model returns a tensor or a tuple")
        results = result if isinstance(result, tuple) else (result,)
        for index, value in enumerate(self._value(results)):
            name = "output" if len(results) == 1 else f"output_{index}"
            self._add(node, Layer("output", {}, (value,)), name)

    def _add(self, node: fx.Node, layer: Layer, name: str | None = None):
        """Create the layer's node (with its edges) and return its output port; FAILED if an input failed."""
        for index, value in enumerate(layer.inputs):
            if value is not FAILED and not isinstance(value, Port):
                raise Unsupported(_not_a_tensor(value, index))
        if layer.inplace and any(len(source.users) > 1 for source in node.all_input_nodes[:1]):
            raise Unsupported(
                "works in place on a tensor that is used again: LayerLoom layers never change their input")
        if FAILED in layer.inputs:
            return FAILED
        if layer.type is None:
            return layer.inputs[0]
        node_id = free_id(name or node.name, self.ids)
        try:
            self.nodes.append(make_node(node_id, layer.type, **layer.params))
        except ValidationError as error:
            raise Unsupported("; ".join(_field_error(e) for e in error.errors(include_url=False))) from None
        self.ids.add(node_id)
        self.edges += [Edge(source=p.node, source_port=p.port, target=node_id) for p in layer.inputs]
        if layer.shape is not None:
            self.expected_shapes[node_id] = (layer.shape, node)
        return Port(node_id)


def _holds_failed(value) -> bool:
    found = []
    fx.node.map_aggregate(value, lambda v: found.append(v) if v is FAILED else None)
    return bool(found)


def _not_a_tensor(value, index: int) -> str:
    if isinstance(value, Recurrent):
        return f"uses the (output, state) tuple of '{value.node}' as a tensor: take its output, out, _ = rnn(x)"
    if isinstance(value, FinalState):
        return (f"uses the final state of '{value.of.node}' in torch's (layers * directions, N, H) layout; "
                "LayerLoom's state is batch-first: use the output's last step, out[:, -1]")
    if value is BATCH or isinstance(value, Sizes):
        return "uses a tensor's size as a value"
    return f"input {index + 1} is the constant {value!r}, not a tensor of the model"


def _field_error(error: dict) -> str:
    loc = [str(part) for part in error["loc"]]
    field = ".".join(loc[loc.index("params") + 1:]) if "params" in loc else ".".join(loc)
    return f"{field}: {error['msg']}" if field else error["msg"]
