"""The traced module's hierarchy kept as blocks: each submodule that holds two or more nodes becomes an instance.

torch.fx records, for every node it traces, the stack of modules whose forward it ran in. Working from the
deepest modules up, the nodes of one module are replaced by an instance of a block whose body is those nodes
(their ids relative to the module: `conv1`, `downsample_0`); a module of the same class with the same body
reuses the block. Consecutive instances of one block, each feeding only the next (an nn.Sequential of equal
layers), become one instance with `repeat`, whose copies `0`, `1`, ... are nn.Sequential's own keys. The flat
document's weights are renamed to the blocked model's dotted paths.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import networkx as nx
import torch
from torch import fx, nn

from ..document import Architecture, BlockDef, BlockNode, Edge, InstanceNode, NodeBase, free_id, is_instance
from ..inline import written
from ..layers import REGISTRY

_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


@dataclass
class _Item:
    """A node of the graph being built: a flat node, or an instance holding flat nodes by relative path."""

    node: NodeBase | InstanceNode
    chain: tuple  # the modules (qualified name, class) it sits in, outermost first
    holds: dict[str, str] = field(default_factory=dict)  # flat id -> path below this instance ('0.conv1')

    @property
    def id(self) -> str:
        return self.node.id


def with_blocks(arch: Architecture, sources: dict[str, fx.Node], weights: dict[str, torch.Tensor]
                ) -> tuple[Architecture, dict[str, torch.Tensor]]:
    """The flat imported document with its module hierarchy as blocks, and its weights keyed for it."""
    builder = _Builder(arch, {node_id: _stack(fx_node) for node_id, fx_node in sources.items()},
                       {node_id: _local_name(node_id, fx_node) for node_id, fx_node in sources.items()})
    for module in builder.modules_deepest_first():
        builder.group(module)
    builder.merge_repeats(builder.top, ())
    builder.parametrize()
    blocked = Architecture(name=arch.name, description=arch.description, blocks=builder.blocks,
                           nodes=[item.node for item in builder.top], edges=builder.edges, training=arch.training)
    paths = {flat: item.id + (f".{rest}" if rest else "") for item in builder.top
             for flat, rest in ({item.id: ""} | item.holds).items()}
    renamed = {}
    for key, tensor in weights.items():
        node_id, _, name = key.partition(".")
        renamed[f"{paths[node_id]}.{name}"] = tensor
    return blocked, renamed


def _stack(fx_node: fx.Node) -> tuple:
    """The non-leaf modules a traced node ran in, outermost first: (qualified name, class)."""
    stack = [tuple(entry) for entry in fx_node.meta.get("nn_module_stack", {}).values()]
    if fx_node.op == "call_module" and stack and stack[-1][0] == fx_node.target:
        stack.pop()  # the leaf module the node calls is the node itself
    return tuple(stack)


class _Builder:
    def __init__(self, arch: Architecture, stacks: dict[str, tuple], local: dict[str, str]):
        self.top = [_Item(node, stacks.get(node.id, ())) for node in arch.nodes]
        self.edges = list(arch.edges)
        self.blocks: dict[str, BlockDef] = {}
        self.signatures: dict[str, str] = {}  # body signature -> block name
        self.classes: dict[str, str] = {}  # block name -> the class of the modules it stands for
        self.local = dict(local)  # item id -> its id inside the module holding it

    def modules_deepest_first(self) -> list[tuple]:
        chains = list(dict.fromkeys(item.chain[:depth] for item in self.top for depth in range(1, len(item.chain) + 1)))
        return sorted(chains, key=len, reverse=True)  # stable: among equally deep modules, forward order

    def group(self, chain: tuple) -> None:
        """Replace the items inside module `chain` by one instance (or one repeat), when that keeps the graph
        acyclic and the module holds two or more items."""
        members = [item for item in self.top if item.chain[:len(chain)] == chain]
        if len(members) < 2 or not self._contractible({m.id for m in members}) or self._everything(members, chain):
            return
        self.merge_repeats(members, chain)
        members = [item for item in self.top if item.chain[:len(chain)] == chain]
        name = _module_name(chain[-1][0])
        if len(members) == 1:  # a sequence of equal blocks: the repeat is the module itself
            self._rename(members[0], name, chain[:-1])
            return
        self._contract(members, chain, name)

    def _everything(self, members: list[_Item], chain: tuple) -> bool:
        """Whether a container (nn.Sequential, ...) holds the whole network: a block of it would hide it all."""
        layers = {item.id for item in self.top if item.node.type not in ("input", "output")}
        return issubclass(chain[-1][1], _CONTAINERS) and {m.id for m in members} == layers

    def _contractible(self, ids: set[str]) -> bool:
        """Whether replacing `ids` by one node keeps the graph acyclic: no path leaves them and comes back."""
        graph = nx.DiGraph([(("g" if e.source in ids else e.source), ("g" if e.target in ids else e.target))
                            for e in self.edges if not (e.source in ids and e.target in ids)])
        return nx.is_directed_acyclic_graph(graph)

    def _contract(self, members: list[_Item], chain: tuple, name: str) -> None:
        ids = {m.id for m in members}
        used: set[str] = set()
        local = {}
        for member in members:
            local[member.id] = free_id(self.local.get(member.id, member.id), used | {"x", "y"})
            used.add(local[member.id])
        entering = list(dict.fromkeys((e.source, e.source_port) for e in self.edges
                                      if e.target in ids and e.source not in ids))
        leaving = list(dict.fromkeys((e.source, e.source_port) for e in self.edges
                                     if e.source in ids and e.target not in ids))
        ins = ["x"] if len(entering) == 1 else [f"x{i + 1}" for i in range(len(entering))]
        outs = ["y"] if len(leaving) == 1 else [f"y{i + 1}" for i in range(len(leaving))]
        value_in = dict(zip(entering, ins))
        body_edges = []
        for e in self.edges:
            if e.target in ids:
                source = (local[e.source], e.source_port) if e.source in ids else (value_in[(e.source, e.source_port)], "out")
                body_edges.append(Edge(source=source[0], source_port=source[1], target=local[e.target],
                                       target_port=e.target_port))
        body_edges += [Edge(source=local[s], source_port=p, target=o) for (s, p), o in zip(leaving, outs)]
        body_nodes = ([BlockNode(id=i, type="input") for i in ins] + [written(m.node).model_copy(update={"id": local[m.id]}) for m in members]
                      + [BlockNode(id=o, type="output") for o in outs])
        block = self._block(chain[-1][1], name, BlockDef(nodes=body_nodes, edges=body_edges))
        port_in = {v: ("in" if len(ins) == 1 else i) for v, i in value_in.items()}
        port_out = {v: ("out" if len(outs) == 1 else o) for v, o in zip(leaving, outs)}
        outer_used = {item.id for item in self.top if item.id not in ids}
        instance = _Item(InstanceNode(id=free_id(name, outer_used), type=block), chain[:-1])
        for member in members:
            instance.holds[member.id] = local[member.id]
            instance.holds |= {flat: f"{local[member.id]}.{rest}" for flat, rest in member.holds.items()}
        edges, rewired = [], set()
        for e in self.edges:
            if e.source in ids and e.target in ids:
                continue
            if e.target in ids:
                e = e.model_copy(update={"target": instance.id, "target_port": port_in[(e.source, e.source_port)]})
            elif e.source in ids:
                e = e.model_copy(update={"source": instance.id, "source_port": port_out[(e.source, e.source_port)]})
            else:
                edges.append(e)
                continue
            if e not in rewired:  # two inner readers of one outer value: one edge into the instance
                rewired.add(e)
                edges.append(e)
        self.edges = edges
        position = self.top.index(members[0])
        self.top = [item for item in self.top if item.id not in ids]
        self.top.insert(position, instance)
        self.local[instance.id] = name

    def _block(self, cls: type, name: str, body: BlockDef) -> str:
        """The block with this body: an existing one, or a new one named after the module's class."""
        signature = json.dumps([cls.__qualname__, body.to_dict()], sort_keys=True)
        if signature not in self.signatures:
            base = name if issubclass(cls, _CONTAINERS) else cls.__name__
            base = re.sub(r"\d+$", "", base) or "block"
            taken = set(self.blocks) | set(REGISTRY)
            self.signatures[signature] = free_id(base, taken)
            self.blocks[self.signatures[signature]] = body
            self.classes[self.signatures[signature]] = cls.__qualname__
        return self.signatures[signature]

    def parametrize(self) -> None:
        """Blocks of one class whose bodies differ only in param values become one block, with a block param
        for each value that differs (values that always differ together share one param); instances give theirs."""
        order = [name for name in reversed(list(nx.topological_sort(self._uses()))) if name in self.blocks]
        for name in order:
            if name not in self.blocks:
                continue
            kin = [other for other in self.blocks if self.classes[other] == self.classes[name]
                   and _shape(self.blocks[other], self.blocks) == _shape(self.blocks[name], self.blocks)]
            if len(kin) > 1:
                self._merge(kin)

        self._renumber()

    def _renumber(self) -> None:
        """Names numbered again after merging: BasicBlock, BasicBlock_2, ... in the order the blocks were made."""
        taken: set[str] = set(REGISTRY)
        names = {}
        for name in self.blocks:
            names[name] = free_id(re.sub(r"_\d+$", "", name), taken)
            taken.add(names[name])
        rename = lambda node: node.model_copy(update={"type": names[node.type]}) if node.type in names else node  # noqa: E731
        self.blocks = {names[name]: block.model_copy(update={"nodes": [rename(n) for n in block.nodes]})
                       for name, block in self.blocks.items()}
        for item in self.top:
            item.node = rename(item.node)

    def _uses(self) -> nx.DiGraph:
        graph = nx.DiGraph()
        graph.add_nodes_from(self.blocks)
        graph.add_edges_from((name, n.type) for name, block in self.blocks.items() for n in block.nodes
                             if n.type in self.blocks)
        return graph

    def _merge(self, kin: list[str]) -> None:
        values = [_values(self.blocks[name], self.blocks) for name in kin]
        varying = [key for key in values[0] if len({json.dumps(v[key]) for v in values}) > 1]
        params: dict[str, str] = {}  # the values across blocks (as JSON) -> param name
        names = {}
        for node_id, field_name in varying:
            vector = json.dumps([v[(node_id, field_name)] for v in values])
            if vector not in params:
                base = field_name if field_name not in params.values() else f"{node_id}_{field_name}"
                params[vector] = free_id(base, set(params.values()))
            names[(node_id, field_name)] = params[vector]
        first = self.blocks[kin[0]]
        nodes = [n.model_copy(update={"params": {**n.params, **{f: f"${names[(n.id, f)]}" for (i, f) in names if i == n.id}}})
                 for n in first.nodes]
        defaults = {param: json.loads(vector)[0] for vector, param in params.items()}
        self.blocks[kin[0]] = first.model_copy(update={"nodes": nodes, "params": defaults})
        given = {name: {param: json.loads(vector)[index] for vector, param in params.items()
                        if json.loads(vector)[index] != defaults[param]} for index, name in enumerate(kin)}
        for name in kin[1:]:
            del self.blocks[name]
        self._retype(given, kin[0])

    def _retype(self, given: dict[str, dict], merged: str) -> None:
        """Instances of the merged blocks name the merged one and give their values."""
        def fix(node):
            if node.type not in given:
                return node
            return node.model_copy(update={"type": merged, "params": {**node.params, **given[node.type]}})
        for item in self.top:
            item.node = fix(item.node)
        for name, block in self.blocks.items():
            self.blocks[name] = block.model_copy(update={"nodes": [fix(n) for n in block.nodes]})

    def merge_repeats(self, members: list[_Item], chain: tuple) -> None:
        """Runs of instances of one block, each feeding only the next, become one instance with `repeat`."""
        index = 0
        while index < len(members):
            run = [members[index]]
            while index + len(run) < len(members) and self._follows(run[-1], members[index + len(run)]):
                run.append(members[index + len(run)])
            if len(run) > 1:
                self._repeat(run)
                members = [item for item in self.top if item.chain[:len(chain)] == chain] if chain else self.top
            index += 1

    def _follows(self, first: _Item, second: _Item) -> bool:
        """Whether `second` is another plain instance of `first`'s block, fed by it alone, and its only reader."""
        if not (is_instance(first.node) and is_instance(second.node)) or first.node.type != second.node.type:
            return False
        if first.node.repeat != 1 or second.node.repeat != 1 or first.chain != second.chain:
            return False
        block = self.blocks[first.node.type]
        if (len(block.input_ids), len(block.output_ids)) != (1, 1):
            return False
        out = [e for e in self.edges if e.source == first.id]
        into = [e for e in self.edges if e.target == second.id]
        return len(out) == 1 and len(into) == 1 and out[0] == into[0]

    def _repeat(self, run: list[_Item]) -> None:
        first, last, ids = run[0], run[-1], {item.id for item in run}
        merged = _Item(first.node.model_copy(update={"repeat": len(run)}), first.chain)
        for index, item in enumerate(run):
            merged.holds[item.id] = str(index)
            merged.holds |= {flat: f"{index}.{rest}" for flat, rest in item.holds.items()}
        self.edges = [e.model_copy(update={"source": first.id}) if e.source == last.id else e for e in self.edges
                      if not (e.source in ids and e.target in ids)]
        position = self.top.index(first)
        self.top = [item for item in self.top if item.id not in ids]
        self.top.insert(position, merged)

    def _rename(self, item: _Item, name: str, chain: tuple) -> None:
        """The item stands for the module itself: its id becomes the module's name, its chain the module's."""
        new = free_id(name, {i.id for i in self.top if i is not item})
        self.edges = [e.model_copy(update={k: new for k in ("source", "target") if getattr(e, k) == item.id})
                      for e in self.edges]
        position = self.top.index(item)
        self.top[position] = _Item(item.node.model_copy(update={"id": new}), chain, item.holds)
        self.local[new] = name


def _full(node: BlockNode, blocks: dict[str, BlockDef]) -> dict:
    """A body node's params with every default written out, so that bodies compare field by field."""
    if is_instance(node):
        return {**blocks[node.type].params, **node.params}
    return REGISTRY[node.type].params().model_dump(mode="json") | dict(node.params)


def _shape(block: BlockDef, blocks: dict[str, BlockDef]) -> str:
    """A body without its values: node ids, types, param names, repeats and edges."""
    nodes = [(n.id, n.type, sorted(_full(n, blocks)), n.repeat) for n in block.nodes]
    return json.dumps([nodes, [e.model_dump() for e in block.edges]])


def _values(block: BlockDef, blocks: dict[str, BlockDef]) -> dict[tuple, object]:
    return {(n.id, key): value for n in block.nodes for key, value in _full(n, blocks).items()}


def _module_name(qualified: str) -> str:
    """A module's attribute name ('layer1.0' -> '0'), as an id: 'n_0' when it is not an identifier."""
    return qualified.rsplit(".", 1)[-1]


def _local_name(node_id: str, fx_node: fx.Node) -> str:
    """A flat node's id inside the module it runs in, the same in every instance of that module: a called module's
    path below it ('layer1_0_conv1' -> 'conv1', its second call 'relu_1'), a function without fx's counter
    ('add_3' -> 'add'); other names as the importer gave them."""
    stack = _stack(fx_node)
    if not stack or node_id != fx_node.name:
        return node_id
    if fx_node.op == "call_module":
        prefix = stack[-1][0] + "."
        relative = fx_node.target[len(prefix):] if fx_node.target.startswith(prefix) else fx_node.target
        base = fx_node.target.replace(".", "_")
        return relative.replace(".", "_") + node_id[len(base):] if node_id.startswith(base) else node_id
    return re.sub(r"_\d+$", "", node_id)
