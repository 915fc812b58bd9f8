"""The cost pass over a document: each layer's costs (layer.py), with every kept tensor stored once, however many
layers keep it, and given to the node that made it."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..document import Architecture
from ..errors import Problem
from ..layers import TensorMeta
from ..order import walk
from ..shapes import ShapeReport
from .layer import Bytes, LayerCost, layer_cost


@dataclass(frozen=True)
class NodeCost:
    """One node's costs: MACs for one sample, and the bytes it holds for backward (stored once, given to the
    node that made them: an input node holds the batch when a layer keeps it)."""

    macs: int
    activation: Bytes
    weight_bytes: int = 0
    trainable_values: int = 0
    trainable_tensors: int = 0


@dataclass
class CostReport:
    """The side table of the cost pass."""

    nodes: dict[str, NodeCost] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def total_macs(self) -> int:
        return sum(cost.macs for cost in self.nodes.values())

    @property
    def activation(self) -> Bytes:
        return sum((cost.activation for cost in self.nodes.values()), Bytes())

    def heaviest(self, count: int = 3, key: str = "macs") -> list[str]:
        """The ids of the `count` nodes with the most MACs (key 'macs') or activation bytes ('activation')."""
        weight = (lambda c: c.macs) if key == "macs" else (lambda c: c.activation.per_sample or c.activation.fixed)
        ranked = sorted(((weight(c), node_id) for node_id, c in self.nodes.items() if weight(c) > 0), reverse=True)
        return [node_id for _, node_id in ranked[:count]]


def infer_costs(arch: Architecture, shapes: ShapeReport) -> CostReport:
    """MACs and training memory of every node whose shapes are known."""
    report, layers = CostReport(), {}
    roots: dict[tuple, tuple] = {}   # (node id, output slot) -> (node id, storage index): where its bytes live
    kept: set[tuple] = set()         # the (node id, storage index) some layer keeps for backward
    needs_grad: dict[tuple, bool] = {}
    for node, edges in walk(arch):
        info = shapes.nodes.get(node.id)
        if info is None or node.type == "output":
            continue
        inputs = {port: [shapes.nodes[e.source].outputs[e.source_port] for e in port_edges]
                  for port, port_edges in edges.items()}
        sources = {(port, index, part): (edge.source, (edge.source_port, 0, part))
                   for port, port_edges in edges.items() for index, edge in enumerate(port_edges)
                   for part in range(_parts(inputs[port][index]))}
        if not roots.keys() >= set(sources.values()):
            continue  # behind a layer whose costs could not be counted
        grads = tuple(sorted(slot for slot, source in sources.items() if needs_grad[source]))
        cost = _input_cost(info.shape) if node.type == "input" else layer_cost(node, inputs, grads)
        if isinstance(cost, str):
            report.problems.append(Problem(f"cannot count its costs: {cost}", node=node.id))
            continue
        layers[node.id] = cost
        roots |= {(node.id, slot): (node.id, index) for slot, index in cost.output_storage.items()}
        roots |= {(node.id, slot): roots[sources[input_slot]] for slot, input_slot in cost.aliases.items()}
        kept |= {(node.id, index) for index in cost.saved_storages}
        kept |= {roots[sources[slot]] for slot in cost.saved_inputs}
        needs_grad |= {(node.id, slot): flag for slot, flag in cost.needs_grad.items()}
    for node_id, cost in layers.items():
        held = sum((size for index, size in enumerate(cost.storages) if (node_id, index) in kept), cost.internal)
        report.nodes[node_id] = NodeCost(cost.macs, held, cost.weight_bytes, cost.trainable_values,
                                         cost.trainable_tensors)
    return report


def _input_cost(meta: TensorMeta) -> LayerCost:
    """An input node: no work, one storage (the batch), which no gradient reaches."""
    out = ("out", 0, 0)
    return LayerCost(macs=0, internal=Bytes(), storages=(Bytes(0, math.prod(meta.shape) * meta.dtype.itemsize),),
                     output_storage={out: 0}, aliases={}, saved_storages=frozenset(), saved_inputs=frozenset(),
                     needs_grad={out: False})


def _parts(meta) -> int:
    """How many tensors a value holds: one, or two for an LSTM state (h, c)."""
    return len(meta) if isinstance(meta, tuple) and not isinstance(meta, TensorMeta) else 1


