"""Remedies as documents: a variant of a document with exactly one change, to train beside the original.

Each remedy a diagnosis suggests is a kind here: `applicable(arch)` lists those that fit a document (and
`why_not` says why another does not), `derive(arch, kind)` returns the variant, checked like any document.
The variant is named '<name> + <kind>', so `layerloom compare` knows it as a variant of the original.
A document built from blocks is remedied as its flat network (every instance inlined): the variant is flat.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import networkx as nx

from .validate import check
from .document import Architecture, Edge, NodeBase, make_node
from .inline import flatten
from .layout import auto_layout
from .config import TrainingConfig

SQUASHING = ("sigmoid", "tanh")
RELU_LIKE = ("relu", "leaky_relu", "elu", "gelu")
NORMALIZED = ("linear", "conv1d", "conv2d")
VARIANT_MARK = " + "


class RemedyError(ValueError):
    """A remedy that is unknown or does not apply; the message is one user-facing line."""


@dataclass(frozen=True)
class Remedy:
    kind: str
    title: str            # what the button and `--list` say
    why_not: Callable[[Architecture], str | None]
    apply: Callable[[Architecture], Architecture]


# graph helpers -------------------------------------------------------------------------------------------------
def _targets(arch: Architecture, node_id: str) -> list[NodeBase]:
    nodes = {n.id: n for n in arch.nodes}
    return [nodes[e.target] for e in arch.edges if e.source == node_id and e.target in nodes]


def _renamed(arch: Architecture, nodes: list[NodeBase], old: str, new: str) -> Architecture:
    """`nodes` (replacing arch's), ids containing `old` renamed with `new` where the new id is free."""
    used = {n.id for n in nodes}
    names = {}
    for node in nodes:
        candidate = node.id.replace(old, new)
        if old in node.id and candidate not in used:
            names[node.id] = candidate
            used.add(candidate)
    nodes = [n.model_copy(update={"id": names.get(n.id, n.id)}) for n in nodes]
    edges = [e.model_copy(update={"source": names.get(e.source, e.source), "target": names.get(e.target, e.target)})
             for e in arch.edges]
    layout = arch.layout.model_copy(update={"nodes": {names.get(k, k): v for k, v in arch.layout.nodes.items()}})
    return arch.model_copy(update={"nodes": nodes, "edges": edges, "layout": layout})


def _laid_out_again(original: Architecture, variant: Architecture) -> Architecture:
    return auto_layout(variant) if original.layout.nodes else variant


# the remedies --------------------------------------------------------------------------------------------------
def _squashing(arch: Architecture) -> list[NodeBase]:
    """Sigmoid and tanh layers inside the network (not a last one feeding an output, which sets its range)."""
    return [n for n in arch.nodes if n.type in SQUASHING and not any(t.type == "output" for t in _targets(arch, n.id))]


def _relu(arch: Architecture) -> Architecture:
    """Sigmoid/tanh -> ReLU, and the layers feeding them start from kaiming_normal (the init that fits ReLU)."""
    changed = {n.id for n in _squashing(arch)}
    feeding = {e.source for e in arch.edges if e.target in changed}
    nodes = []
    for node in arch.nodes:
        if node.id in changed:
            node = make_node(node.id, "relu")
        elif node.id in feeding and node.spec.initializable:
            node = node.model_copy(update={"params": node.params.model_copy(update={"init": "kaiming_normal",
                                                                                    "init_gain": 1.0})})
        nodes.append(node)
    for old in SQUASHING:
        arch = _renamed(arch, nodes, old, "relu")
        nodes = arch.nodes
    return arch


def _small_init(arch: Architecture) -> list[NodeBase]:
    return [n for n in arch.nodes if n.spec.initializable and n.params.init == "normal_0.01"]


def _init(arch: Architecture) -> Architecture:
    """normal_0.01 -> kaiming_normal before a ReLU-like activation, lecun_normal otherwise."""
    small = {n.id for n in _small_init(arch)}
    nodes = []
    for node in arch.nodes:
        if node.id in small:
            scheme = "kaiming_normal" if any(t.type in RELU_LIKE for t in _targets(arch, node.id)) else "lecun_normal"
            node = node.model_copy(update={"params": node.params.model_copy(update={"init": scheme, "init_gain": 1.0})})
        nodes.append(node)
    return arch.model_copy(update={"nodes": nodes})


def _unnormalized(arch: Architecture) -> list[NodeBase]:
    """Dense and conv layers with no batchnorm after them, except one feeding an output (the scores)."""
    _, report = check(arch)
    found = []
    for node in arch.nodes:
        targets = _targets(arch, node.id)
        info = report.nodes.get(node.id)
        if node.type not in NORMALIZED or info is None or not targets or any(t.type in ("output", "batchnorm")
                                                                            for t in targets):
            continue
        if node.type != "linear" or len(info.shape.shape) == 1:    # a linear over a sequence has no channels
            found.append(node)
    return found


def _batchnorm(arch: Architecture) -> Architecture:
    """A batchnorm after each dense and conv layer."""
    layers = {n.id for n in _unnormalized(arch)}
    used = {n.id for n in arch.nodes}
    names = {}
    for layer in layers:
        names[layer] = next(f"{layer}_norm{'' if i == 1 else i}" for i in range(1, 10**6)
                            if f"{layer}_norm{'' if i == 1 else i}" not in used)
    nodes = []
    for node in arch.nodes:
        nodes.append(node)
        if node.id in layers:
            nodes.append(make_node(names[node.id], "batchnorm"))
    edges = [e.model_copy(update={"source": names[e.source]}) if e.source in layers else e for e in arch.edges]
    edges += [Edge(source=layer, target=names[layer]) for layer in layers]
    return _laid_out_again(arch, arch.model_copy(update={"nodes": nodes, "edges": edges}))


def _chains(arch: Architecture) -> list[list[str]]:
    """Maximal paths along which each layer is the only consumer of the one before and reads only it."""
    nodes = {n.id: n for n in arch.nodes}
    consumers = {n: [e for e in arch.edges if e.source == n] for n in nodes}
    producers = {n: [e for e in arch.edges if e.target == n] for n in nodes}

    def after(node_id: str) -> str | None:
        if len(consumers[node_id]) != 1:
            return None
        edge = consumers[node_id][0]
        target = nodes.get(edge.target)
        simple = target is not None and len(producers[target.id]) == 1 and edge.target_port == "in"
        return target.id if simple and target.spec.outputs == ("out",) and target.type != "output" else None

    followers = {after(n) for n in nodes} - {None}
    chains = []
    for start in (n for n in nodes if n not in followers):
        chain = [start]
        while (following := after(chain[-1])) is not None:
            chain.append(following)
        chains.append(chain)
    return chains


def _blocks(arch: Architecture) -> list[tuple[str, str]]:
    """(input, end) of each block to wrap: runs along a chain that hold a weighted layer and give out the shape
    they take in, the shortest first, never overlapping, the skip leaving from before an activation (as in
    templates/deep_residual.json). None in a net that has adds already."""
    if any(n.type == "add" for n in arch.nodes):
        return []
    _, report = check(arch)
    nodes = {n.id: n for n in arch.nodes}
    shape = lambda node_id: report.nodes[node_id].shape if node_id in report.nodes else None
    candidates = []
    for chain in _chains(arch):
        for start in range(len(chain) - 1):
            if nodes[chain[start]].spec.category == "Activations":    # skip from before the activation
                continue
            end = next((end for end in range(start + 1, len(chain))
                        if any(nodes[n].spec.initializable for n in chain[start + 1:end + 1])
                        and shape(chain[end]) is not None and shape(chain[end]) == shape(chain[start])), None)
            if end is not None:
                candidates.append((end - start, chain, start, end))
    taken: set[str] = set()
    blocks = []
    for _, chain, start, end in sorted(candidates, key=lambda c: c[:1] + c[2:]):
        inside = set(chain[start + 1:end + 1])
        if not inside & taken and chain[start] not in taken - {chain[start]}:
            taken |= inside
            blocks.append((chain[start], chain[end]))
    return sorted(blocks, key=lambda b: [n.id for n in arch.nodes].index(b[1]))


def _residual(arch: Architecture) -> Architecture:
    """An `add` joining each block's input to its output (the skip connection of a residual block)."""
    used = {n.id for n in arch.nodes}
    nodes, edges, joined = list(arch.nodes), list(arch.edges), {}
    for source, end in _blocks(arch):
        name = joined[end] = next(f"skip{i}" for i in range(1, 10**6) if f"skip{i}" not in used)
        used.add(name)
        nodes.insert(next(i for i, n in enumerate(nodes) if n.id == end) + 1, make_node(name, "add"))
        edges = [e.model_copy(update={"source": name}) if e.source == end else e for e in edges]
        edges += [Edge(source=end, target=name), Edge(source=joined.get(source, source), target=name)]
    return _laid_out_again(arch, arch.model_copy(update={"nodes": nodes, "edges": edges}))


def _lstm(arch: Architecture) -> Architecture:
    """Plain RNN layers -> LSTM layers of the same size."""
    from .layers.recurrent import RecurrentParams
    kept = set(RecurrentParams.model_fields)
    nodes = [make_node(n.id, "lstm", **{k: v for k, v in n.params.model_dump().items() if k in kept})
             if n.type == "rnn" else n for n in arch.nodes]
    return _renamed(arch, nodes, "rnn", "lstm")


POSITIONAL = ("positional_encoding", "positional_embedding")


def _unplaced(arch: Architecture) -> list[str]:
    """What feeds the first attention layers (those no other attention layer feeds), in a document without
    positional information."""
    if any(n.type in POSITIONAL for n in arch.nodes):
        return []
    graph = arch.graph()
    attention = [n.id for n in arch.nodes if n.spec.attention]
    first = [a for a in attention if not any(other in nx.ancestors(graph, a) for other in attention)]
    return list(dict.fromkeys(e.source for e in arch.edges if e.target in first and e.target_port in ("in", "query",
                                                                                                         "key_value")))


def _positions(arch: Architecture) -> Architecture:
    """A sinusoidal positional_encoding after what feeds the first attention layers, read by all its readers."""
    used = {n.id for n in arch.nodes}
    nodes, edges = list(arch.nodes), list(arch.edges)
    for source in _unplaced(arch):
        name = next(f"{source}_positions{'' if i == 1 else i}" for i in range(1, 10**6)
                    if f"{source}_positions{'' if i == 1 else i}" not in used)
        used.add(name)
        nodes.insert(next(i for i, n in enumerate(nodes) if n.id == source) + 1, make_node(name, "positional_encoding"))
        edges = [e.model_copy(update={"source": name}) if e.source == source and e.source_port == "out" else e
                 for e in edges]
        edges.append(Edge(source=source, target=name))
    return _laid_out_again(arch, arch.model_copy(update={"nodes": nodes, "edges": edges}))


def _training(arch: Architecture, **changes) -> Architecture:
    """`arch` with its training section changed (nested dicts update nested settings)."""
    data = arch.training.model_dump()
    for name, value in changes.items():
        data[name] = {**data[name], **value} if isinstance(data.get(name), dict) else value
    return arch.model_copy(update={"training": TrainingConfig.model_validate(data)})


def _needs(found: Callable[[Architecture], list], why: str) -> Callable[[Architecture], str | None]:
    return lambda arch: None if found(arch) else why


def _clip_why_not(arch: Architecture) -> str | None:
    if arch.training is None:
        return "the document has no training section"
    return "the training already clips the gradient" if arch.training.grad_clip else None


def _decay_why_not(arch: Architecture) -> str | None:
    if arch.training is None:
        return "the document has no training section"
    return "the optimizer already has weight decay" if arch.training.optimizer.weight_decay else None


REMEDIES: dict[str, Remedy] = {r.kind: r for r in (
    Remedy("relu", "ReLU instead of sigmoid/tanh, with kaiming init",
           _needs(_squashing, "it has no sigmoid or tanh layer inside the network"), _relu),
    Remedy("init", "lecun_normal / kaiming_normal instead of normal_0.01",
           _needs(_small_init, "no layer starts from normal_0.01"), _init),
    Remedy("batchnorm", "batchnorm after each dense and conv layer",
           _needs(_unnormalized, "every dense and conv layer is already followed by batchnorm"), _batchnorm),
    Remedy("residual", "residual add around each same-shape block",
           _needs(_blocks, "it has residual adds already, or no chain of layers whose output has its input's shape"),
           _residual),
    Remedy("clip", "gradient clipping by norm (max_norm 1.0)", _clip_why_not,
           lambda arch: _training(arch, grad_clip={"max_norm": 1.0})),
    Remedy("weight_decay", "weight decay 1e-4", _decay_why_not,
           lambda arch: _training(arch, optimizer={"weight_decay": 1e-4})),
    Remedy("lstm", "LSTM instead of plain RNN layers",
           _needs(lambda arch: [n for n in arch.nodes if n.type == "rnn"], "it has no plain RNN layer"), _lstm),
    Remedy("positions", "sinusoidal positional encoding before the attention",
           _needs(_unplaced, "it has no attention layer, or has positional information already"), _positions),
)}


def why_not(arch: Architecture, kind: str) -> str | None:
    """None when remedy `kind` applies to `arch`, else the reason it does not."""
    if kind not in REMEDIES:
        raise RemedyError(f"unknown remedy '{kind}'; choose one of {', '.join(REMEDIES)}")
    return REMEDIES[kind].why_not(flatten(arch))


def applicable(arch: Architecture) -> list[str]:
    """The remedy kinds that apply to `arch`, in REMEDIES order."""
    flat = flatten(arch)
    return [kind for kind, remedy in REMEDIES.items() if remedy.why_not(flat) is None]


def base_name(name: str) -> str:
    """The name of the document a variant came from ('Deep net + relu + clip' -> 'Deep net')."""
    return name.split(VARIANT_MARK, 1)[0]


def derive(arch: Architecture, kind: str) -> Architecture:
    """The variant of `arch` with remedy `kind`: one change, a valid document. Raises RemedyError."""
    reason = why_not(arch, kind)
    if reason:
        raise RemedyError(f"remedy '{kind}' does not apply to '{arch.name}': {reason}")
    variant = REMEDIES[kind].apply(flatten(arch))
    variant = variant.model_copy(update={"name": f"{arch.name}{VARIANT_MARK}{kind}"[:200]})
    problems, _ = check(variant)
    if problems:
        raise RemedyError(f"remedy '{kind}' does not fit '{arch.name}': {problems[0]}")
    return Architecture.model_validate(variant.model_dump())
