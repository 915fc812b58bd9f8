"""Turns a traced module into a LayerLoom document and a state_dict keyed like the compiled model."""
from __future__ import annotations

import dataclasses
import operator
from typing import Any

import torch
from pydantic import ValidationError
from torch import fx, nn

from ..document import Edge, free_id, make_node
from ..layers import REGISTRY
from .mapping import FUNCTIONS, METHODS, MODULES, RECURRENT, SUBCLASSES, Layer, Port, Unsupported, require
from .propagate import TensorInfo
from .values import Failed, FinalState, Outputs, Sizes, TorchRecurrent, describe, is_tensor
from ..layers.patterns import BatchSize

# Calls on plain numbers (sizes read in forward) that are worked out while importing.
_ARITHMETIC = {operator.add, operator.sub, operator.mul, operator.floordiv, operator.truediv, operator.mod,
               operator.neg, operator.pow, int, float, len, max, min}


class GraphConverter:
    """One pass over the fx graph, in order: each node becomes a document node, a port, or a reported problem.
    A node that fails still has its torch shape, so the nodes after it are checked too and every problem is listed."""

    def __init__(self, root: fx.GraphModule, inputs: dict[str, Any], infos: dict[fx.Node, Any],
                 flagged: dict[fx.Node, tuple] | None = None):
        self.root, self.inputs, self.infos, self.flagged = root, inputs, infos, flagged or {}
        self.nodes: list = []
        self.sources: dict[str, fx.Node] = {}  # document node id -> the fx node it computes
        self.edges: list[Edge] = []
        self.weights: dict[str, torch.Tensor] = {}
        self.used: set[int] = set()  # ids of the module's parameters and buffers that kept nodes hold
        self.held: dict[str, list[int]] = {}  # node id -> ids of the parameters and buffers it holds
        self.expected_shapes: dict[str, tuple[tuple[int, ...], fx.Node]] = {}
        self.problems: list[str] = []
        self.values: dict[fx.Node, Any] = {}
        self.owners: dict[int, str] = {}  # id of a parameter or buffer -> the path of the module holding it
        self.called: set[str] = set()
        self.order = {node: index for index, node in enumerate(root.graph.nodes)}

    def run(self) -> None:
        for node in self.root.graph.nodes:
            try:
                self.values[node] = getattr(self, f"_{node.op}")(node)
            except Unsupported as error:
                self.problems.append(f"{describe(node, self.root)}: {error}")
                self.values[node] = Failed(self._shape(node))
        self._prune()

    def _shape(self, node: fx.Node) -> tuple[int, ...] | None:
        info = self.infos.get(node)
        return info.shape if isinstance(info, TensorInfo) else None

    def _value(self, arg):
        return fx.node.map_aggregate(arg, lambda a: self.values[a] if isinstance(a, fx.Node) else a)

    def _arguments(self, node: fx.Node) -> tuple[tuple, dict]:
        """The call's arguments as values; a flag that follows the module's mode reads TRAINING."""
        args, kwargs = self.flagged.get(node, (node.args, node.kwargs))
        return self._value(args), self._value(kwargs)

    def _placeholder(self, node: fx.Node):
        if node.name not in self.inputs:  # an optional argument the model never reads
            return None
        meta = self.inputs[node.name]
        return self._add(node, Layer("input", {"shape": meta.shape, "dtype": meta.dtype}))

    def _get_attr(self, node: fx.Node):
        raise Unsupported("a parameter or buffer used directly in forward: only layers' own weights can be imported")

    def _call_module(self, node: fx.Node):
        module = self.root.get_submodule(node.target)
        convert = MODULES.get(type(module)) or next(
            (SUBCLASSES[cls] for cls in type(module).__mro__ if cls in SUBCLASSES), None)
        require(convert is not None, "no LayerLoom layer for this module")
        require(not (module._forward_hooks or module._forward_pre_hooks), "forward hooks are not imported")
        layer = convert(module)
        args = self._value(node.args)
        state = layer.type is not None and REGISTRY[layer.type].input_port("state") is not None
        if type(module) in RECURRENT:
            require(len(args) == 1 and not node.kwargs,
                    "called with an initial state: LayerLoom's state port is batch-first, torch's is not")
        require(len(args) in ((1, 2) if state else (1,)) and not node.kwargs, "called with more than one argument")
        self._take_weights(node, module)
        named = (("state", args[1]),) if len(args) == 2 else ()
        value = self._add(node, dataclasses.replace(layer, inputs=(args[0],), named=named), weights=module)
        if not isinstance(value, Port):
            return value
        if type(module) in RECURRENT:
            return TorchRecurrent(value.node, isinstance(module, nn.LSTM), module.bidirectional)
        outputs = REGISTRY[layer.type].outputs if layer.type else ("out",)
        return Outputs(tuple(Port(value.node, p) for p in outputs)) if len(outputs) > 1 else value

    def _take_weights(self, node: fx.Node, module: nn.Module) -> None:
        """Check the module's state: called once, shared with no other module."""
        if not module.state_dict():
            return
        require(node.target not in self.called, "called more than once: LayerLoom layers do not share weights")
        for tensor in [*module.parameters(), *module.buffers()]:
            owner = self.owners.get(id(tensor))
            require(owner is None, f"shares a weight with self.{owner} (tied weights)")
        self.called.add(node.target)
        self.owners |= {id(tensor): node.target for tensor in [*module.parameters(), *module.buffers()]}

    def _call_function(self, node: fx.Node):
        args, kwargs = self._arguments(node)
        if node.target is operator.getitem:
            return self._getitem(node, *args)
        if node.target is getattr:
            return self._attribute(*args)
        if node.target in _ARITHMETIC and not _holds(args, _is_value):
            require(not _holds(args, lambda a: isinstance(a, BatchSize)),
                    "computes with the batch size: only x.size(0) itself can be used, as a reshape's first size")
            return node.target(*args, **kwargs)
        convert = FUNCTIONS.get(node.target)
        require(convert is not None, "no LayerLoom layer for this function")
        return self._call(node, convert, args, kwargs)

    def _call_method(self, node: fx.Node):
        args, kwargs = self._arguments(node)
        if node.target == "size":
            return self._attribute(args[0], "shape", *args[1:], *kwargs.values())
        if node.target == "dim":
            return self._attribute(args[0], "ndim")
        convert = METHODS.get(node.target)
        require(convert is not None, "no LayerLoom layer for this tensor method")
        return self._call(node, convert, args, kwargs)

    def _attribute(self, tensor, name: str, *index):
        """x.shape, x.size(), x.size(i), x.ndim: sizes are known numbers, except the batch size."""
        require(name in ("shape", "ndim"), f"no LayerLoom equivalent of the attribute {name!r}")
        if isinstance(tensor, Failed):
            return Failed(None)
        require(isinstance(tensor, Port), "reads the size of something that is not a tensor of the model")
        sizes = Sizes(tensor)
        if name == "ndim":
            return len(tensor.shape)
        return sizes[index[0]] if index else sizes

    def _call(self, node: fx.Node, convert, args: tuple, kwargs: dict, name: str | None = None):
        stand_in = fx.node.map_aggregate(  # a failed input is checked as a tensor of its shape
            (args, kwargs), lambda a: Port("?", shape=a.shape) if isinstance(a, Failed) else a)
        try:
            layer = convert(*stand_in[0], **stand_in[1])
        except TypeError as error:  # arguments that do not fit torch's signature as the converter knows it
            raise Unsupported(f"unexpected arguments ({error})") from None
        if _holds((args, kwargs), lambda a: isinstance(a, Failed)):
            return Failed(self._shape(node))
        return self._add(node, layer, name)

    def _getitem(self, node: fx.Node, container, item):
        if isinstance(container, Failed):
            return Failed(self._shape(node))
        if isinstance(container, (tuple, list, Sizes)):
            return container[item]
        if isinstance(container, Outputs):
            return container.ports[item]
        if isinstance(container, TorchRecurrent):
            require(item in (0, 1, -1, -2), f"index {item!r} of a recurrent layer's (output, state) tuple")
            if item in (0, -2):
                return Port(container.node, shape=self._shape(node))
            return FinalState(container, "pair" if container.lstm else "h")
        if isinstance(container, FinalState) and container.part == "pair":
            require(item in (0, 1, -1, -2), f"index {item!r} of an LSTM's (h, c) state")
            return FinalState(container.of, "h" if item in (0, -2) else "c")
        if isinstance(container, FinalState):
            require(container.part == "h" and item == -1 and not container.of.bidirectional,
                    "a final state is (layers * directions, N, H): only h[-1] of a one-way layer, its output's "
                    "last step, can be imported")
            layer = Layer("last_step", {}, (Port(container.of.node),))
            return self._add(node, layer, f"{container.of.node}_last")
        name = f"{container.node}_last" if isinstance(container, Port) else None
        return self._call(node, FUNCTIONS[operator.getitem], (container, item), {}, name)

    def _output(self, node: fx.Node):
        result = node.args[0]
        require(not isinstance(result, (list, dict)),
                "returns a list or dict: a LayerLoom model returns a tensor or a tuple")
        results = result if isinstance(result, tuple) else (result,)
        for index, value in enumerate(self._value(results)):
            name = "output" if len(results) == 1 else f"output_{index}"
            self._add(node, Layer("output", {}, (value,)), name)

    def _add(self, node: fx.Node, layer: Layer, name: str | None = None, weights: nn.Module | None = None):
        """Create the layer's node (with its edges) and return its output port; Failed if an input failed."""
        inputs = [*layer.inputs, *(value for _, value in layer.named)]
        for index, value in enumerate(inputs):
            if not is_tensor(value):
                raise Unsupported(_not_a_tensor(value, index))
        if layer.inplace:
            self._check_inplace(node)
        if any(isinstance(value, Failed) for value in inputs):
            return Failed(self._shape(node))
        if layer.type is None:
            return dataclasses.replace(layer.inputs[0], origin=None)
        node_id = free_id(name or node.name, {n.id for n in self.nodes})
        try:
            self.nodes.append(make_node(node_id, layer.type, **layer.params))
        except ValidationError as error:
            raise Unsupported("; ".join(_field_error(e) for e in error.errors(include_url=False))) from None
        self.edges += [Edge(source=p.node, source_port=p.port, target=node_id) for p in layer.inputs]
        self.edges += [Edge(source=p.node, source_port=p.port, target=node_id, target_port=port)
                       for port, p in layer.named]
        if layer.shape is not None:
            self.expected_shapes[node_id] = (layer.shape, node)
        self.sources[node_id] = node
        if weights is not None:
            self.weights |= {f"{node_id}.{k}": t.detach().cpu().clone() for k, t in weights.state_dict().items()}
            self.held[node_id] = [id(t) for t in [*weights.parameters(), *weights.buffers()]]
        return Port(node_id, shape=self._shape(node), origin=layer if len(node.users) == 1 else None)

    def _check_inplace(self, node: fx.Node) -> None:
        """A call that overwrites its input is refused when anything reads that memory afterwards, through the
        same tensor or another view of it."""
        source = node.all_input_nodes[0]
        storage = getattr(self.infos.get(source), "storage", None)
        after = self.order[node]
        for other in self.root.graph.nodes:
            if self.order[other] >= after or getattr(self.infos.get(other), "storage", None) != storage:
                continue
            reader = next((u for u in other.users if self.order[u] > after), None)
            if reader is not None:
                what = "a tensor that" if other is source else f"memory it shares with {other.name}, which"
                raise Unsupported(f"works in place on {what} {reader.name} reads afterwards: "
                                  "LayerLoom layers never change their input")

    def _prune(self) -> None:
        """Drop the nodes no output depends on (a value computed but never returned), with their weights."""
        keep = {n.id for n in self.nodes if n.type == "output"}
        for edge in reversed(self.edges):  # edges are created in graph order, so one backward sweep suffices
            if edge.target in keep:
                keep.add(edge.source)
        self.nodes = [n for n in self.nodes if n.id in keep or n.type == "input"]
        self.edges = [e for e in self.edges if e.target in keep]
        self.weights = {k: v for k, v in self.weights.items() if k.split(".")[0] in keep}
        self.used = {tensor for node_id, ids in self.held.items() if node_id in keep for tensor in ids}


def _is_value(value) -> bool:
    return is_tensor(value) or isinstance(value, (Sizes, Outputs, TorchRecurrent, FinalState))


def _holds(value, test) -> bool:
    found = []
    fx.node.map_aggregate(value, lambda v: found.append(v) if test(v) else None)
    return bool(found)


def _not_a_tensor(value, index: int) -> str:
    if isinstance(value, TorchRecurrent):
        return f"uses the (output, state) tuple of '{value.node}' as a tensor: take its output, out, _ = rnn(x)"
    if isinstance(value, FinalState):
        return (f"uses the final state of '{value.of.node}' in torch's (layers * directions, N, H) layout; "
                "LayerLoom's state is batch-first: use the output's last step, out[:, -1]")
    if isinstance(value, (BatchSize, Sizes)):
        return "uses a tensor's size as a value"
    return f"input {index + 1} is the constant {value!r}, not a tensor of the model"


def _field_error(error: dict) -> str:
    loc = [str(part) for part in error["loc"]]
    field = ".".join(loc[loc.index("params") + 1:]) if "params" in loc else ".".join(loc)
    return f"{field}: {error['msg']}" if field else error["msg"]
