"""The cost pass over a document: each layer's costs (layer.py), with every kept tensor stored once, however many
layers keep it, and given to the node that made it."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

from ..document import Architecture
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
    """The side table of the cost pass."""

    nodes: dict[str, NodeCost] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def total_macs(self) -> int:
        return sum(cost.macs for cost in self.nodes.values())

    @property
    def activation(self) -> Bytes:
        return sum((cost.activation for cost in self.nodes.values()), Bytes())

    def heaviest(self, key: str = "macs", batch_size: int = 1, count: int = 3, least: float = 0.1) -> dict[str, float]:
        """The nodes the designer highlights: up to `count` with the most MACs (key 'macs') or activation bytes at
        `batch_size` ('activation'), each holding at least `least` of the total, with their share of it."""
        weights = {node_id: cost.macs if key == "macs" else cost.activation.at(batch_size)
                   for node_id, cost in self.nodes.items()}
        total = sum(weights.values())
        ranked = sorted(weights, key=weights.get, reverse=True)[:count]
        return {node_id: weights[node_id] / total for node_id in ranked if total and weights[node_id] >= least * total}


def infer_costs(arch: Architecture, shapes: ShapeReport) -> CostReport:
    """MACs and training memory of every node whose shapes are known."""
    report, layers = CostReport(), {}
    roots: dict[tuple, tuple] = {}   # (node id, output slot) -> (node id, storage index): where its bytes live
    kept: dict[tuple, set] = {}      # (node id, storage index) -> the nodes that keep it for backward
    needs_grad: dict[tuple, bool] = {}
    layouts: dict[tuple, tuple] = {}   # (node id, output slot) -> its Layouts, for strided outputs
    for node, edges in walk(arch):
        info = shapes.nodes.get(node.id)
        if info is None:
            continue
        if node.type == "output":
            layers[node.id] = _OUTPUT
            continue
        inputs = {port: [shapes.nodes[e.source].outputs[e.source_port] for e in port_edges]
                  for port, port_edges in edges.items()}
        sources = {(port, index, part): (edge.source, (edge.source_port, 0, part))
                   for port, port_edges in edges.items() for index, edge in enumerate(port_edges)
                   for part in range(_parts(inputs[port][index]))}
        if not roots.keys() >= set(sources.values()):
            continue  # behind a layer whose costs could not be counted
        grads = tuple(sorted(slot for slot, source in sources.items() if needs_grad[source]))
        strided = tuple(sorted((slot, layouts[source]) for slot, source in sources.items() if source in layouts))
        cost = _input_cost(info.shape) if node.type == "input" else layer_cost(node, inputs, grads, strided)
        if isinstance(cost, str):
            report.problems.append(Problem(f"cannot count its costs: {cost}", node=node.id))
            continue
        layers[node.id] = cost
        roots |= {(node.id, slot): (node.id, index) for slot, index in cost.output_storage.items()}
        roots |= {(node.id, slot): roots[sources[input_slot]] for slot, input_slot in cost.aliases.items()}
        for key in [*((node.id, index) for index in cost.saved_storages), *(roots[sources[s]] for s in cost.saved_inputs)]:
            kept.setdefault(key, set()).add(node.id)
        needs_grad |= {(node.id, slot): flag for slot, flag in cost.needs_grad.items()}
        layouts |= {(node.id, slot): layout for slot, layout in cost.layouts.items()}
    for node_id, cost in layers.items():
        outputs = tuple(
            KeptOutput(tuple(slot[0] for slot, i in cost.output_storage.items() if i == index), size,
                       tuple(sorted(kept[(node_id, index)])))
            for index, size in enumerate(cost.storages) if (node_id, index) in kept)
        report.nodes[node_id] = NodeCost(cost.macs, cost.internal, outputs, cost.weight_bytes, cost.trainable_values,
                                         cost.trainable_tensors)
    return report


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
