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
from ..layers.learned import learned
from ..layers.patterns import BatchSize, Param
from .mapping import (CALLS, CHAINS, EXPORTED, FUNCTIONS, METHODS, MODULES, RECURRENT, SUBCLASSES, Layer, Port,
                      Unsupported, require)
from .propagate import TensorInfo
from .passes import check_inplace, prune
from .recurrent import RecurrentCalls, as_tensor
from .values import Failed, FinalState, Outputs, Refused, Sizes, TorchRecurrent, describe, is_tensor

# Calls on plain numbers (sizes read in forward) that are worked out while importing.
_ARITHMETIC = {operator.add, operator.sub, operator.mul, operator.floordiv, operator.truediv, operator.mod,
               operator.neg, operator.pow, operator.eq, operator.ne, operator.lt, operator.le, operator.gt,
               operator.ge, operator.not_, int, float, len, max, min}


class GraphConverter(RecurrentCalls):
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
        self.learned: dict[str, Port] = {}  # a module tensor's path -> the parameter node holding it
        self.layouts: dict[str, str] = {}  # node -> the layout of its fx node's value, where not batch-first
        self.relaid_random = False  # dropout on a tensor that is not batch-first: its draws fall elsewhere

    def run(self) -> None:
        for node in self.root.graph.nodes:
            try:
                self.values[node] = getattr(self, f"_{node.op}")(node)
            except Unsupported as error:
                self.problems.append(f"{describe(node, self.root)}: {error}")
                self.values[node] = self._failed(node)
        keep = prune(self)
        self.used = {tensor for node_id, ids in self.held.items() if node_id in keep for tensor in ids}

    def _shape(self, node: fx.Node) -> tuple[int, ...] | None:
        info = self.infos.get(node)
        return info.shape if isinstance(info, TensorInfo) else None

    def _failed(self, node: fx.Node, layout: str = "batch") -> Failed:
        info = self.infos.get(node)
        return Failed(shape=getattr(info, "shape", None), dtype=getattr(info, "dtype", None), layout=layout)

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
        return self._add(node, Layer("input", {"shape": meta.shape, "dtype": meta.dtype}), layout=meta.layout)

    def _get_attr(self, node: fx.Node):
        tensor = operator.attrgetter(node.target)(self.root)
        require(isinstance(tensor, torch.Tensor), "reads an attribute that is not a tensor")
        return Param(node.target, tensor)

    def _call_module(self, node: fx.Node):
        module = self.root.get_submodule(node.target)
        kind = type(module)
        require(not (module._forward_hooks or module._forward_pre_hooks), "forward hooks are not imported")
        args, kwargs = self._value(node.args), self._value(node.kwargs)
        if kind in CHAINS:
            require(len(args) == 1 and not kwargs, "called with more than one argument")
            chain = CHAINS[kind](module)
            self._take_weights(node, module)
            return self._chain(node, chain, args[0])
        if kind in CALLS:
            layer = self._convert_call(CALLS[kind], module, args, kwargs)
        else:
            convert = EXPORTED.get(getattr(module, "layerloom_type", None)) or MODULES.get(kind) or next(
                (SUBCLASSES[cls] for cls in kind.__mro__ if cls in SUBCLASSES), None)
            require(convert is not None, "no LayerLoom layer for this module")
            layer = _at_ports(convert(module), args, kwargs)
        self._take_weights(node, module)
        if kind in RECURRENT:
            return self._torch_recurrent(node, module, layer, args)
        value = self._add(node, layer, weights=module)
        if not isinstance(value, Port) or isinstance(value, Failed):
            return value
        outputs = REGISTRY[layer.type].outputs if layer.type else ("out",)
        if len(outputs) == 1:
            return value
        return Outputs(tuple(Refused(layer.refused[i]) if i in layer.refused else Port(value.node, port)
                             for i, port in enumerate(outputs)))

    @staticmethod
    def _convert_call(convert, module: nn.Module, args: tuple, kwargs: dict) -> Layer:
        try:
            return convert(module, *args, **kwargs)
        except TypeError as error:  # arguments that do not fit torch's signature as the converter knows it
            raise Unsupported(f"unexpected arguments ({error})") from None

    def _chain(self, node: fx.Node, chain: list, value):
        """Layers one after another, each holding its part's weights: the last one's output is the call's."""
        for layer, part in chain:
            value = self._add(node, dataclasses.replace(layer, inputs=(value,)), weights=part)
        return value

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
        if node.target is torch._assert:  # on sizes, which are known: torch._assert(h == 224, ...)
            require(isinstance(args[0], bool), "asserts a condition on values only known when the model runs")
            require(args[0], f"asserts {args[1] if len(args) > 1 else 'a condition'}, which fails")
            return None
        if node.target in _ARITHMETIC and not _holds(args, _is_value):
            require(not _holds(args, lambda a: isinstance(a, BatchSize)),
                    "computes with the batch size: only x.size(0) itself can be used, as a reshape's first size")
            return node.target(*args, **kwargs)
        convert = FUNCTIONS.get(node.target) or FUNCTIONS.get(_qualified(node.target))
        require(convert is not None, "no LayerLoom layer for this function")
        return self._call(node, convert, args, kwargs)

    def _call_method(self, node: fx.Node):
        args, kwargs = self._arguments(node)
        if node.target == "size":
            return self._attribute(args[0], "shape", *args[1:], *kwargs.values())
        if node.target == "dim":
            return self._attribute(args[0], "ndim")
        if node.target == "t":
            return self._attribute(args[0], "T")
        convert = METHODS.get(node.target)
        require(convert is not None, "no LayerLoom layer for this tensor method")
        return self._call(node, convert, args, kwargs)

    def _attribute(self, tensor, name: str, *index):
        """x.shape, x.size(), x.size(i), x.ndim, x.dtype, x.device: known values, except the batch size; x.T of
        a (N, T) tensor: the same values, time-major."""
        require(name in ("shape", "ndim", "dtype", "device", "T"), f"no LayerLoom equivalent of attribute {name!r}")
        if isinstance(tensor, Failed) and tensor.shape is None:
            return Failed()
        if name == "T" and isinstance(tensor, Port):
            require(len(tensor.shape) == 2 and tensor.layout in ("batch", "time"),
                    "x.T of a tensor of more than two dimensions reverses them all, the batch's too")
            swapped = "time" if tensor.layout == "batch" else "batch"
            return dataclasses.replace(tensor, shape=tensor.shape[::-1], layout=swapped, origin=None)
        if isinstance(tensor, Param):
            return getattr(tensor.tensor, name) if not index else tensor.tensor.shape[index[0]]
        require(isinstance(tensor, Port), "reads the size of something that is not a tensor of the model")
        if name in ("dtype", "device"):
            return tensor.dtype if name == "dtype" else torch.device("cpu")
        if name == "ndim":
            return len(tensor.shape)
        sizes = Sizes(tensor)
        return sizes[index[0]] if index else sizes

    def _call(self, node: fx.Node, convert, args: tuple, kwargs: dict, name: str | None = None):
        try:
            layer = convert(*args, **kwargs)
        except TypeError as error:  # arguments that do not fit torch's signature as the converter knows it
            raise Unsupported(f"unexpected arguments ({error})") from None
        if isinstance(layer, tuple):  # x.chunk(2, 1): one layer per piece
            infos = self.infos.get(node) or ()
            return tuple(self._add(node, piece, name, info=info) for piece, info in zip(layer, infos))
        return self._add(node, layer, self._folded(args, layer) or name)

    def _folded(self, args: tuple, layer: Layer) -> str | None:
        """When the layer takes over an input's own layer (a + b + c, F.one_hot(x).float()), that input's node,
        used nowhere else, goes, and its id is the new node's."""
        for value in args:
            origin = getattr(value, "origin", None)
            taken = origin is not None and value not in layer.inputs
            if taken and layer.inputs[:len(origin.inputs)] == origin.inputs:
                self.nodes = [n for n in self.nodes if n.id != value.node]
                self.edges = [e for e in self.edges if e.target != value.node]
                self.sources.pop(value.node, None)
                return value.node
        return None

    def _getitem(self, node: fx.Node, container, item):
        if isinstance(container, Failed) and container.shape is None:
            return self._failed(node)
        if isinstance(container, (tuple, list, Sizes)):
            return container[item]
        if isinstance(container, Outputs):
            return container.ports[item]
        if isinstance(container, (TorchRecurrent, FinalState)):
            return self._recurrent_item(node, container, item)
        name = f"{container.node}_last" if isinstance(container, Port) else None
        return self._call(node, FUNCTIONS[operator.getitem], (container, item), {}, name)

    def _output(self, node: fx.Node):
        result = node.args[0]
        require(not isinstance(result, (list, dict)),
                "returns a list or dict: a LayerLoom model returns a tensor or a tuple")
        results = result if isinstance(result, tuple) else (result,)
        for index, value in enumerate(self._value(results)):
            name = "output" if len(results) == 1 else f"output_{index}"
            value = as_tensor(value)
            self._add(node, Layer("output", {}, (value,)), name, layout=getattr(value, "layout", "batch"))

    def _add(self, node: fx.Node, layer: Layer, name: str | None = None, weights: nn.Module | None = None,
             info: TensorInfo | None = None, layout: str | None = None):
        """Create the layer's node (with its edges) and return its output port (described by `info`, else by the
        fx node's run; its layout `layout`, else its inputs'); Failed if an input failed."""
        layer = self._learned_inputs(node, layer)
        layer = dataclasses.replace(layer, inputs=tuple(as_tensor(v) for v in layer.inputs))
        if layout is None:
            layer, layout = self._per_position(layer)
        inputs = [*layer.inputs, *(value for _, value in layer.named)]
        for index, value in enumerate(inputs):
            if not is_tensor(value):
                raise Unsupported(_not_a_tensor(value, index))
        if layer.inplace:
            check_inplace(self.root, self.infos, node)
        if layer.type is None:
            return dataclasses.replace(layer.inputs[0], origin=None, layout=layer.layout or layer.inputs[0].layout)
        if any(isinstance(value, Failed) for value in inputs):
            return self._failed(node, layout)
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
        for key, param, shape in layer.weights:
            tensor = param.tensor.detach().cpu().clone()
            self.weights[f"{node_id}.{key}"] = tensor if shape is None else tensor.reshape(shape)
            self.held.setdefault(node_id, []).append(id(param.tensor))
        info = info or self.infos.get(node)
        if layout != "batch" and layer.type == "dropout":
            self.relaid_random = True
        if layout != "batch":
            self.layouts[node_id] = layout
        return Port(node_id, shape=getattr(info, "shape", None), dtype=getattr(info, "dtype", None),
                    origin=layer if len(node.users) == 1 else None, layout=layout)

    def _per_position(self, layer: Layer) -> tuple[Layer, str]:
        """The layout of the layer's result: its inputs' (all the same), which only a layer computing each position
        alone may read when it is not batch-first; a `dim` param is renumbered for the document."""
        layouts = {v.layout for v in layer.inputs if isinstance(v, Port)}
        layout = layouts.pop() if len(layouts) == 1 else "batch"
        require(not layouts, "mixes time-major and batch-first tensors")
        if layout == "batch" or layer.type is None or layer.type == "output":
            return layer, layout
        require(REGISTRY[layer.type].per_position,
                f"reads a tensor whose batch is in dimension {1 if layout == 'time' else '0 with the steps'}: "
                f"only layers that compute each position alone can, and {layer.type} does not")
        if "dim" in layer.params:
            dim = _document_dim(layer.params["dim"], layout)
            layer = dataclasses.replace(layer, params={**layer.params, "dim": dim})
        return layer, layout

    def _learned_inputs(self, node: fx.Node, layer: Layer) -> Layer:
        """A module's tensor used as an input (x * self.scale) becomes a parameter node, made once per tensor."""
        if not any(isinstance(v, Param) for v in layer.inputs):
            return layer
        source = next((v for v in layer.inputs if isinstance(v, Port)), None)
        require(source is not None, "uses the module's tensors with no tensor of the model beside them")
        inputs = []
        for value in layer.inputs:
            if isinstance(value, Param):
                if value.name not in self.learned:
                    require(self.owners.get(id(value.tensor)) is None,
                            f"self.{value.name} is also a weight of self.{self.owners.get(id(value.tensor))}")
                    made = learned(value, source, len(source.shape))
                    self.learned[value.name] = self._add(node, made, free_id(value.name, ()))
                    self.owners[id(value.tensor)] = value.name
                value = self.learned[value.name]
            inputs.append(value)
        return dataclasses.replace(layer, inputs=tuple(inputs))



def _at_ports(layer: Layer, args: tuple, kwargs: dict) -> Layer:
    """The layer given the call's tensors at its input ports: the first argument at `in`, the others at the other
    ports in order, keywords by port name (as `layerloom export` writes a call to a layer of several inputs)."""
    ports = [p.name for p in REGISTRY[layer.type].inputs] if layer.type else ["in"]
    if len(ports) == 1:
        require(len(args) == 1 and not kwargs, "called with more than one argument")
    bound = dict(zip(ports, args))
    require(len(args) <= len(ports) and not kwargs.keys() - set(ports) - bound.keys(),
            f"called with arguments other than its ports ({', '.join(ports)})")
    bound |= kwargs
    inputs = (bound.pop("in"),) if "in" in bound else ()
    return dataclasses.replace(layer, inputs=inputs, named=tuple(bound.items()))


def _document_dim(dim: int, layout: str) -> int:
    """A torch dimension of a time-major (T, N, ...) or flat (T * N, ...) tensor, numbered in the document's
    (N, T, ...)."""
    require(dim < 0 or dim >= (2 if layout == "time" else 1), f"dim {dim} is the batch's or the steps'")
    return dim if dim < 0 else dim + (0 if layout == "time" else 1)


def _is_value(value) -> bool:
    return is_tensor(value) or isinstance(value, (Sizes, Outputs, TorchRecurrent, FinalState, Param))


def _qualified(function) -> str:
    """'torchvision.ops.stochastic_depth.stochastic_depth': how layers name functions of packages LayerLoom does
    not depend on."""
    return f"{getattr(function, '__module__', '')}.{getattr(function, '__name__', '')}"


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
    if isinstance(value, Refused):
        return value.reason
    return f"input {index + 1} is the constant {value!r}, not a tensor of the model"


def _field_error(error: dict) -> str:
    loc = [str(part) for part in error["loc"]]
    field = ".".join(loc[loc.index("params") + 1:]) if "params" in loc else ".".join(loc)
    return f"{field}: {error['msg']}" if field else error["msg"]
