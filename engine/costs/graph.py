"""The cost pass over a document: each layer's costs (layer.py), with every kept tensor stored once, however many
layers keep it, and given to the node that made it."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

from ..document import Architecture, is_instance
from ..errors import Problem
from ..layers import TensorMeta
from ..order import walk
from ..shapes import ShapeReport
from .layer import Bytes, LayerCost, layer_cost
from .units import format_bytes, format_macs


class KeptOutput(NamedTuple):
    """One of a node's outputs that autograd keeps for backward, and the nodes that keep it (itself included)."""

    ports: tuple[str, ...]
    size: Bytes
    keepers: tuple[str, ...]


@dataclass(frozen=True)
class NodeCost:
    """One node's costs: MACs for one sample, and what it holds for backward: its own intermediate tensors and
    those of its outputs that some layer keeps (each tensor stored once, and given to the node that made it: an
    input node holds the batch when a layer keeps it)."""

    macs: int
    internal: Bytes = Bytes()
    outputs: tuple[KeptOutput, ...] = ()
    weight_bytes: int = 0
    trainable_values: int = 0
    trainable_tensors: int = 0

    @property
    def activation(self) -> Bytes:
        return sum((kept.size for kept in self.outputs), self.internal)


@dataclass
class CostReport:
    """The side table of the cost pass: `nodes` by id (an instance: the sum of what it holds), and `inner`, every
    node inside instances (and each copy of a repeated one) by dotted path."""

    nodes: dict[str, NodeCost] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    inner: dict[str, NodeCost] = field(default_factory=dict)

    @property
    def total_macs(self) -> int:
        return sum(cost.macs for cost in self.nodes.values())

    @property
    def activation(self) -> Bytes:
        return sum((cost.activation for cost in self.nodes.values()), Bytes())

    def of(self, path: str) -> NodeCost:
        """The costs of a node by id or dotted path (nothing, for one whose costs are not known)."""
        return self.nodes.get(path) or self.inner.get(path) or NodeCost(0)

    def heaviest(self, key: str = "macs", batch_size: int = 1, count: int = 3, least: float = 0.1) -> dict[str, float]:
        """The nodes the designer highlights: up to `count` with the most MACs (key 'macs') or activation bytes at
        `batch_size` ('activation'), each holding at least `least` of the total, with their share of it."""
        weights = {node_id: cost.macs if key == "macs" else cost.activation.at(batch_size)
                   for node_id, cost in self.nodes.items()}
        total = sum(weights.values())
        ranked = sorted(weights, key=weights.get, reverse=True)[:count]
        return {node_id: weights[node_id] / total for node_id in ranked if total and weights[node_id] >= least * total}


class _Pass:
    """Where every value's bytes live as the walk goes, keyed by (dotted path, output slot); the layers met."""

    def __init__(self):
        self.layers: dict[str, LayerCost] = {}
        self.roots: dict[tuple, tuple] = {}   # (path, output slot) -> (path, storage index): where its bytes live
        self.kept: dict[tuple, set] = {}      # (path, storage index) -> the nodes that keep it for backward
        self.needs_grad: dict[tuple, bool] = {}
        self.layouts: dict[tuple, tuple] = {}   # (path, output slot) -> its Layouts, for strided outputs
        self.problems: list[Problem] = []

    def alias(self, key: tuple, source: tuple) -> None:
        """The value `key` is the value `source` (an instance's input or output passing a tensor through)."""
        self.roots[key] = self.roots[source]
        self.needs_grad[key] = self.needs_grad[source]
        if source in self.layouts:
            self.layouts[key] = self.layouts[source]

    def graph(self, arch: Architecture, shapes: ShapeReport, prefix: str = "", given: dict | None = None) -> dict:
        """Count a graph whose node ids are prefixed `prefix` (a body's inputs alias the `given` values); returns
        (output id, part) -> the value each of its output nodes receives."""
        results = {}
        for node, edges in walk(arch):
            path, info = prefix + node.id, shapes.nodes.get(node.id)
            if info is None:
                continue
            inputs = {port: [shapes.nodes[e.source].outputs[e.source_port] for e in port_edges]
                      for port, port_edges in edges.items()}
            sources = {(port, index, part): (prefix + edge.source, (edge.source_port, 0, part))
                       for port, port_edges in edges.items() for index, edge in enumerate(port_edges)
                       for part in range(_parts(inputs[port][index]))}
            if not self.roots.keys() >= set(sources.values()):
                continue  # behind a layer whose costs could not be counted
            if node.type == "output":
                if given is None:
                    self.layers[path] = _OUTPUT
                results |= {(node.id, part): sources[("in", 0, part)] for part in range(_parts(inputs["in"][0]))}
            elif node.type == "input" and given is not None:
                for part, source in given[node.id].items():
                    self.alias((path, ("out", 0, part)), source)
            elif is_instance(node):
                self.instance(arch, node, path, info, sources)
            else:
                self.layer(node, path, info, inputs, sources)
        return results

    def instance(self, arch: Architecture, node, path: str, info, sources: dict) -> None:
        """Each copy's body, the first fed by what arrives at the instance, the others by the copy before."""
        spec = arch.spec(node)
        ids = arch.blocks[node.type].input_ids
        given = {i: {part: s for (port, _, part), s in sources.items() if port == (p.name)}
                 for i, p in zip(ids, spec.inputs)}
        for index, copy in enumerate(info.copies):
            where = f"{path}.{index}." if node.repeat > 1 else f"{path}."
            results = self.graph(copy.arch, copy, where, given)
            given = {ids[0]: {part: source for (_, part), source in results.items()}}
        outputs = arch.blocks[node.type].output_ids
        for port, output in zip(spec.outputs, outputs):
            for (end, part), source in results.items():
                if end == output and source in self.roots:
                    self.alias((path, (port, 0, part)), source)

    def layer(self, node, path: str, info, inputs: dict, sources: dict) -> None:
        grads = tuple(sorted(slot for slot, source in sources.items() if self.needs_grad[source]))
        strided = tuple(sorted((slot, self.layouts[source]) for slot, source in sources.items() if source in self.layouts))
        cost = _input_cost(info.shape) if node.type == "input" else layer_cost(node, inputs, grads, strided)
        if isinstance(cost, str):
            self.problems.append(Problem(f"cannot count its costs: {cost}", node=path))
            return
        self.layers[path] = cost
        self.roots |= {(path, slot): (path, index) for slot, index in cost.output_storage.items()}
        self.roots |= {(path, slot): self.roots[sources[input_slot]] for slot, input_slot in cost.aliases.items()}
        for key in [*((path, index) for index in cost.saved_storages), *(self.roots[sources[s]] for s in cost.saved_inputs)]:
            self.kept.setdefault(key, set()).add(path)
        self.needs_grad |= {(path, slot): flag for slot, flag in cost.needs_grad.items()}
        self.layouts |= {(path, slot): layout for slot, layout in cost.layouts.items()}


def infer_costs(arch: Architecture, shapes: ShapeReport) -> CostReport:
    """MACs and training memory of every node whose shapes are known, inside block instances too."""
    run = _Pass()
    run.graph(arch, shapes)
    costs = {}
    for path, cost in run.layers.items():
        outputs = tuple(
            KeptOutput(tuple(slot[0] for slot, i in cost.output_storage.items() if i == index), size,
                       tuple(sorted(run.kept[(path, index)])))
            for index, size in enumerate(cost.storages) if (path, index) in run.kept)
        costs[path] = NodeCost(cost.macs, cost.internal, outputs, cost.weight_bytes, cost.trainable_values,
                               cost.trainable_tensors)
    held: dict[str, list[NodeCost]] = {}  # instance or copy path -> the costs of the layers inside it
    for path, cost in costs.items():
        for end in (i for i, ch in enumerate(path) if ch == "."):
            held.setdefault(path[:end], []).append(cost)
    report = CostReport(problems=run.problems)
    for path, _, _ in shapes.paths():
        cost = costs.get(path) or (_total(held[path]) if path in held else None)
        if cost is not None:
            (report.inner if "." in path else report.nodes)[path] = cost
    return report


def _total(costs: list[NodeCost]) -> NodeCost:
    """What an instance holds: the sum of its nodes' costs."""
    return NodeCost(sum(c.macs for c in costs), sum((c.internal for c in costs), Bytes()),
                    tuple(kept for c in costs for kept in c.outputs), sum(c.weight_bytes for c in costs),
                    sum(c.trainable_values for c in costs), sum(c.trainable_tensors for c in costs))


_OUTPUT = LayerCost(macs=0, internal=Bytes(), storages=(), output_storage={}, aliases={}, saved_storages=frozenset(),
                    saved_inputs=frozenset(), needs_grad={})


def _input_cost(meta: TensorMeta) -> LayerCost:
    """An input node: no work, one storage (the batch), which no gradient reaches."""
    out = ("out", 0, 0)
    return LayerCost(macs=0, internal=Bytes(), storages=(Bytes(0, math.prod(meta.shape) * meta.dtype.itemsize),),
                     output_storage={out: 0}, aliases={}, saved_storages=frozenset(), saved_inputs=frozenset(),
                     needs_grad={out: False})


def _parts(meta) -> int:
    """How many tensors a value holds: one, or two for an LSTM state (h, c)."""
    return len(meta) if isinstance(meta, tuple) and not isinstance(meta, TensorMeta) else 1




def explain(node_id: str, cost: NodeCost, batch_size: int) -> list[str]:
    """Sentences that say where a node's numbers come from, for the designer's inspector."""
    lines = [f"{cost.macs:,} multiply-accumulates per sample, {format_macs(cost.macs * batch_size)} for a batch of "
             f"{batch_size:,}, counted by torch's FlopCounterMode on this layer's forward pass." if cost.macs else
             "No multiply-accumulates: torch counts those of matrix products and convolutions only."]
    held = cost.activation.at(batch_size)
    if not held:
        return lines + ["Keeps nothing for the backward pass."]
    lines.append(f"Holds {format_bytes(held)} for the backward pass at batch {batch_size:,}:")
    if cost.internal.at(batch_size):
        lines.append(f"• {format_bytes(cost.internal.at(batch_size))} of tensors of its own (masks, indices, "
                     "statistics or internal steps), kept by itself")
    for kept in cost.outputs:
        who = ["itself"] * (node_id in kept.keepers) + [f"'{k}'" for k in kept.keepers if k != node_id]
        what = "its output" if len(kept.ports) == 1 else "its outputs (one tensor)"
        ports = _and(f"'{port}'" for port in kept.ports)
        lines.append(f"• {format_bytes(kept.size.at(batch_size))}: {what} {ports}, kept by {_and(who)}")
    return lines


def _and(words) -> str:
    words = [str(w) for w in words]
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else "".join(words)
