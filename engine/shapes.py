"""Shape inference: a pass that runs each layer on meta tensors and returns a side table of shapes and sizes.

Torch itself computes every shape (no hand-written formulas), on the `meta` device, so nothing is allocated:
an architecture over the parameter limit is refused before any memory is used. An op without a meta kernel is
an error, never a run on real tensors. (The meta device costs about a fifth of `FakeTensorMode` per layer.) Results are
cached per (type, params, input shapes), so re-checking a graph after one edit only redoes what changed.

A block instance is inferred per instance: its body (the block's graph with the instance's params) runs on the
shapes arriving at the instance, once per (block, params, input shapes) in a pass, so a network of many copies
of a few blocks costs what its distinct blocks cost. Copies that a repeat chains reach a fixed point as soon as
a copy's output has its input's shape; every further copy is then counted without being walked, so an absurd
repeat meets the parameter limit at once.
"""
from __future__ import annotations

import dataclasses
import json
import math
import threading
from dataclasses import dataclass, field
from typing import Iterator

import torch

from .blocks import instantiate, repeat_problem, unusable
from .document import Architecture, Edge, NodeBase, is_instance
from .errors import Problem
from .layers import TensorMeta
from .layers.registry import shape_text
from .order import walk

DEFAULT_MAX_PARAMS = 2_000_000_000
MAX_NODES = 100_000  # nodes of the network with every copy of every block expanded
MAX_SAMPLE_VALUES = 2**31 - 1  # per tensor and sample: 8 GiB of float32
_BATCH = 2
_CACHE_SIZE = 16_384


@dataclass(frozen=True)
class NodeInfo:
    """What flows out of one node (port -> meta; an output node shows what it receives) and its parameters; for
    a block instance, the report of each copy's body too, in chain order."""

    outputs: dict[str, object]
    params: int = 0
    trainable: int = 0
    copies: tuple["ShapeReport", ...] = ()

    @property
    def shape(self):
        """The meta of the main output ('out')."""
        return self.outputs.get("out")


@dataclass
class ShapeReport:
    """The side table of shape inference for one graph (a document, or an instance's body), and every problem
    met; problems inside instances name their node by its dotted path."""

    nodes: dict[str, NodeInfo] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    arch: Architecture | None = None  # the graph described
    outputs: dict[str, object] = field(default_factory=dict)  # a body's results by port
    size: int = 0  # nodes, counting every node inside every copy of every instance

    @property
    def total_params(self) -> int:
        return sum(info.params for info in self.nodes.values())

    @property
    def trainable_params(self) -> int:
        return sum(info.trainable for info in self.nodes.values())

    def paths(self, prefix: str = "") -> Iterator[tuple[str, object, NodeInfo]]:
        """(dotted path, node, info) of every node reached, each instance before what it holds: 'stage1',
        'stage1.conv1', and for a repeated instance each copy too, 'stage2.0', 'stage2.0.conv1', 'stage2.1', ..."""
        for node in self.arch.nodes:
            if node.id in self.nodes:
                yield from _paths(prefix + node.id, node, self.nodes[node.id])

    def as_info(self) -> NodeInfo:
        """A body seen from outside: its results, its parameters and itself."""
        return NodeInfo(self.outputs, self.total_params, self.trainable_params, (self,))


def _paths(path: str, node, info: NodeInfo) -> Iterator[tuple[str, object, NodeInfo]]:
    yield path, node, info
    if len(info.copies) == 1:
        yield from info.copies[0].paths(path + ".")
    else:
        for index, copy in enumerate(info.copies):
            yield from _paths(f"{path}.{index}", node, copy.as_info())


def format_meta(meta) -> str:
    """'(1, 8, 8)' for a tensor, '(h (1, 64), c (1, 64))' for an LSTM state."""
    if isinstance(meta, TensorMeta):
        return shape_text(meta.shape)
    return "(h " + format_meta(meta[0]) + ", c " + format_meta(meta[1]) + ")"


def meta_to_json(meta) -> list:
    """A shape as JSON: a list of ints, or a list of such lists for an LSTM state."""
    return list(meta.shape) if isinstance(meta, TensorMeta) else [meta_to_json(m) for m in meta]


def infer_shapes(arch: Architecture, max_params: int = DEFAULT_MAX_PARAMS, known: list[Problem] = ()) -> ShapeReport:
    """Shapes and parameter counts of every node that can be reached from valid inputs. Instances of blocks with
    `known` problems (from `validate`), or of blocks that contain themselves, are left out."""
    skip = unusable(arch, {p.block for p in known if p.block is not None})
    flawed = {p.node for p in known if p.block is None and p.node is not None}
    run = _Pass(max_params, skip, {n.id for n in arch.nodes if is_instance(n) and n.id in flawed})
    report = ShapeReport(arch=arch)
    try:
        run.graph(arch, report, None, "")
    except _OverLimit as limit:
        report.problems.append(limit.problem)
    return report


class _OverLimit(Exception):
    def __init__(self, problem: Problem):
        self.problem = problem


class _Pass:
    """One inference of a document: the running totals the limits watch, and the bodies met so far."""

    def __init__(self, max_params: int, skip_blocks: frozenset[str], skip_nodes: set[str]):
        self.max_params, self.skip_blocks, self.skip_nodes = max_params, skip_blocks, skip_nodes
        self.params = self.size = 0
        self.bodies: dict[tuple, tuple] = {}  # (block, params) -> (body, problems)
        self.reports: dict[tuple, ShapeReport] = {}  # (block, params, input metas) -> the body's report

    def count(self, params: int, nodes: int, path: str) -> None:
        self.params += params
        self.size += nodes
        if self.params > self.max_params:
            raise _OverLimit(Problem(
                f"the model would have over {self.params:,} parameters, above the limit of {self.max_params:,}",
                node=path))
        if self.size > MAX_NODES:
            raise _OverLimit(Problem(
                f"the network would have over {MAX_NODES:,} nodes with its blocks expanded", node=path))

    def graph(self, arch: Architecture, report: ShapeReport, given: dict | None, prefix: str) -> None:
        """Fill `report` for `arch`, whose input nodes receive `given` (a body) or their own shapes (None)."""
        for node, edges in walk(arch):
            spec = arch.spec(node)
            inputs = None if spec is None else _gather_inputs(spec, edges, report.nodes)
            if inputs is None:
                continue
            if is_instance(node):
                if node.type in self.skip_blocks or (not prefix and node.id in self.skip_nodes):
                    continue
                info = self.instance(arch, node, inputs, report, prefix)
                if info is None:
                    continue
                report.size += sum(copy.size for copy in info.copies)
            else:
                info = _infer_node(node, inputs, given)
                if isinstance(info, str):
                    report.problems.append(Problem(info, node=node.id))
                    continue
                self.count(info.params, 1, prefix + node.id)
                report.size += 1
            report.nodes[node.id] = info
        ends = [n.id for n in arch.nodes if n.type == "output" and n.id in report.nodes]
        report.outputs = {("out" if len(ends) == 1 else end): report.nodes[end].shape for end in ends}

    def instance(self, arch: Architecture, node, inputs: dict, report: ShapeReport, prefix: str) -> NodeInfo | None:
        """An instance's copies, each inferred on what the one before gives; None when there is a problem."""
        problem = repeat_problem(arch, node.type, node.repeat)  # a repeat given by "$name" is known only now
        if problem:
            report.problems.append(Problem(problem, node=node.id, field="repeat"))
            return None
        key = (node.type, json.dumps(node.params, sort_keys=True))
        if key not in self.bodies:
            self.bodies[key] = instantiate(arch, node)
        body, problems = self.bodies[key]
        first = f"{node.id}.0." if node.repeat > 1 else f"{node.id}."
        if body is None:
            report.problems += [_inside(p, first, node.id) for p in problems]
            return None
        ids = arch.blocks[node.type].input_ids
        given = {ids[0]: inputs["in"][0]} if len(ids) == 1 else {i: inputs[i][0] for i in ids}
        copies: list[ShapeReport] = []
        for index in range(node.repeat):
            path = f"{prefix}{node.id}" + (f".{index}" if node.repeat > 1 else "")
            copy = self.body(key, body, given, path)
            if copy.problems or len(copy.outputs) != len(arch.blocks[node.type].output_ids):
                where = f"{node.id}.{index}." if node.repeat > 1 else first
                report.problems += [_inside(p, where, node.id) for p in copy.problems]
                return None
            copies.append(copy)
            following = {ids[0]: copy.outputs.get("out")}
            if following == given:  # a fixed point: every further copy is this one
                rest = node.repeat - index - 1
                self.count(copy.total_params * rest, copy.size * rest, prefix + node.id)
                copies += [copy] * rest
                break
            given = following
        return NodeInfo(copies[-1].outputs, sum(c.total_params for c in copies),
                        sum(c.trainable_params for c in copies), tuple(copies))

    def body(self, key: tuple, body: Architecture, given: dict, path: str) -> ShapeReport:
        """The report of `body` on `given`, inferred once per pass."""
        cache_key = (*key, tuple(given.items()))
        report = self.reports.get(cache_key)
        if report is not None:
            self.count(report.total_params, report.size, path)
            return report
        report = self.reports[cache_key] = ShapeReport(arch=body)
        self.graph(body, report, given, path + ".")
        return report


def _inside(problem: Problem, prefix: str, node_id: str) -> Problem:
    """A problem of a body, named from the graph holding the instance."""
    return dataclasses.replace(problem, node=prefix + problem.node if problem.node else node_id)


def _gather_inputs(spec, edges: dict[str, list[Edge]], known: dict[str, NodeInfo]) -> dict[str, list] | None:
    """Port -> metas arriving there, or None when an input is unknown or the ports are miswired."""
    if not edges.keys() <= {p.name for p in spec.inputs}:
        return None
    inputs: dict[str, list] = {}
    for port in spec.inputs:
        arriving = edges.get(port.name, [])
        if (len(arriving) > 1 and not port.multiple) or (len(arriving) < port.min_count and not port.optional):
            return None
        for edge in arriving:
            source = known.get(edge.source)
            if source is None or edge.source_port not in source.outputs:
                return None
            inputs.setdefault(port.name, []).append(source.outputs[edge.source_port])
    return inputs


_cache: dict[tuple, NodeInfo | str] = {}
_lock = threading.Lock()


def _infer_node(node: NodeBase, inputs: dict[str, list], given: dict | None = None) -> NodeInfo | str:
    """One layer's outputs; inside a body (`given`: input id -> meta) inputs take what arrives at the instance, and
    outputs pass anything on."""
    if node.type == "input":
        p = node.params
        info = NodeInfo({"out": given[node.id] if given is not None else TensorMeta(tuple(p.shape), getattr(torch, p.dtype))})
    elif node.type == "output":
        if given is None and not isinstance(inputs["in"][0], TensorMeta):
            return "receives an LSTM state (h, c), not one tensor: connect the LSTM's 'out' port instead"
        info = NodeInfo({"out": inputs["in"][0]})
    else:
        key = (node.type, node.params.model_dump_json(), tuple((k, tuple(v)) for k, v in inputs.items()))
        with _lock:
            if key not in _cache:
                if len(_cache) >= _CACHE_SIZE:
                    _cache.clear()
                _cache[key] = _input_problem(node.spec, inputs) or _run_meta(node, inputs)
            info = _cache[key]
    if isinstance(info, str):
        return info
    return _size_problem(info) or info


def _input_problem(spec, inputs: dict[str, list]) -> str | None:
    """Inputs the layer cannot take at all: an LSTM state outside a `state` port, or the wrong dtype."""
    for port, metas in inputs.items():
        for meta in metas:
            if not isinstance(meta, TensorMeta):
                if port != "state":
                    return f"port '{port}' receives an LSTM state (h, c); only a recurrent layer's 'state' port takes it"
            elif meta.dtype not in spec.input_dtypes:
                wanted = " or ".join(_dtype_name(d) for d in spec.input_dtypes)
                hint = "set the input's dtype to int64" if torch.int64 in spec.input_dtypes else "token ids go into an embedding"
                return f"expects {wanted} input, got {_dtype_name(meta.dtype)} ({hint})"
    return None


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _size_problem(info: NodeInfo) -> str | None:
    for meta in info.outputs.values():
        for tensor in (meta,) if isinstance(meta, TensorMeta) else meta:
            values = math.prod(tensor.shape)
            if values > MAX_SAMPLE_VALUES:
                return f"one sample would hold {values:,} values {format_meta(tensor)}, over the limit of {MAX_SAMPLE_VALUES:,}"
    return None


def _run_meta(node: NodeBase, inputs: dict[str, list]) -> NodeInfo | str:
    spec = node.spec
    try:
        with torch.device("meta"):  # weights and inputs on the meta device: nothing allocated
            module = spec.build(node.params, inputs).eval()  # eval: the training shapes, with fewer ops
            probe = _one_step(spec, inputs)
            args = tuple(_empty(m) for m in probe.get("in", ()))
            kwargs = {name: _empty(metas[0]) for name, metas in probe.items() if name != "in"}
            result = module(*args, **kwargs)
    except Exception as error:  # torch reports shape errors with many exception types
        return _explain(error, inputs)
    metas = {port: _meta(v) for port, v in zip(spec.outputs, result if len(spec.outputs) > 1 else (result,))}
    params = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return NodeInfo(_with_steps(spec, metas, inputs), params, trainable)


def _one_step(spec, inputs: dict[str, list]) -> dict[str, list]:
    """The inputs, with sequences cut to one step for a layer that declares `step_ports`."""
    if not spec.step_ports:
        return inputs
    return {**inputs, "in": [TensorMeta((1, *m.shape[1:]), m.dtype) for m in inputs["in"]]}


def _with_steps(spec, metas: dict, inputs: dict[str, list]) -> dict:
    """Put the input's step count back on the step ports of a layer that ran on one step."""
    if not spec.step_ports:
        return metas
    sequence = inputs["in"][0].shape
    for port in spec.step_ports:
        if len(metas[port].shape) == len(sequence):  # a sequence out, not a many-to-one summary
            metas[port] = metas[port]._replace(shape=(sequence[0], *metas[port].shape[1:]))
    return metas


def _empty(meta):
    if isinstance(meta, TensorMeta):
        return torch.empty((_BATCH, *meta.shape), dtype=meta.dtype)
    return tuple(_empty(m) for m in meta)


def _meta(value):
    if isinstance(value, torch.Tensor):
        return TensorMeta(tuple(value.shape[1:]), value.dtype)
    return tuple(_meta(v) for v in value)


def _explain(error: Exception, inputs: dict[str, list]) -> str:
    lines = str(error).strip().splitlines()
    message = lines[0] if lines else type(error).__name__
    if isinstance(error, ValueError):  # raised by our builders and by torch's argument checks: already clear
        return message
    if "overflow" in message:
        message = "sizes too large to compute"
    metas = [m for ms in inputs.values() for m in ms]
    label = "input shape" if len(metas) == 1 else "input shapes"
    return f"{message} ({label} {' and '.join(format_meta(m) for m in metas)})"


def accepting_layers(meta, port: str = "out") -> list[tuple[str, str]]:
    """(layer type, input port) for every layer that can take `meta` coming from an output named `port`: a
    recurrent state goes into a recurrent layer's state port (kind and dtype checked: its sequence input must
    come too); anything else into a layer's one required input, tried with the layer's default params (a
    vector is not offered to a 2D convolution). A `meta` of None (not inferred yet) checks nothing."""
    from .document import make_node
    from .layers import REGISTRY
    found = []
    for spec in REGISTRY.values():
        if port == "state":
            target = spec.input_port("state")
            if target is not None and (meta is None or not _input_problem(spec, {"state": [meta]})):
                found.append((spec.type, "state"))
            continue
        required = [p for p in spec.inputs if not p.optional]
        if len(required) == 1:
            inputs = {required[0].name: [meta] * max(1, required[0].min_count)}
            if meta is None or not isinstance(_infer_node(make_node("probe", spec.type), inputs), str):
                found.append((spec.type, required[0].name))
    return found


def feeding_layers(port: str) -> list[tuple[str, str]]:
    """(layer type, output port) for every layer whose output may go into an input port named `port`: a
    recurrent state port takes a recurrent layer's state, any other port a layer's main output."""
    from .layers import REGISTRY
    wanted = "state" if port == "state" else "out"
    return [(spec.type, wanted) for spec in REGISTRY.values() if wanted in spec.outputs]
