"""The classes of an exported file: the document's, and one per block whose constructor arguments are its params.

A block is used by instances with different params and input shapes. Its class is written from each realization
(one copy of one instance) with the values that vary named: a param given as `"$name"` is the argument `name`,
and an inferred size (a conv's in_channels) is the block param it always equals, or `in_shape[k]`, a size of
what arrives at the instance (then `in_shape` is an argument too). Names are Symbols, values that compute as
themselves and print as their names, so when every realization writes the same text the class fits them all; it
takes the params that text reads. When it does not (a size computed from a param, say) the
block is written as one class per distinct realization, `Block`, `Block_2`, ..., without arguments.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from torch import fx

from ..blocks import reference
from ..compiler import to_fx_graph
from ..document import Architecture, is_instance
from ..layers.code import Construct, Symbol, literal, symbol
from ..shapes import ShapeReport
from .layer_code import CODE


@dataclass(frozen=True)
class Realization:
    """One copy of one instance of a block: the values of the block's params and the copy's body."""

    values: dict
    report: ShapeReport

    @property
    def shapes(self) -> dict[str, tuple]:
        """Input id -> the sample shape arriving there."""
        return {n.id: self.report.nodes[n.id].shape.shape for n in self.report.arch.nodes if n.type == "input"}


def realizations(arch: Architecture, report: ShapeReport) -> dict[str, list[Realization]]:
    """Every distinct realization of every block in the network."""
    found: dict[str, dict[tuple, Realization]] = {}

    def visit(report: ShapeReport) -> None:
        for node in report.arch.nodes:
            if is_instance(node):
                values = {**arch.blocks[node.type].params, **node.params}
                for copy in report.nodes[node.id].copies:
                    key = (json.dumps(values, sort_keys=True), id(copy))
                    if key not in found.setdefault(node.type, {}):
                        found[node.type][key] = Realization(values, copy)
                        visit(copy)
    visit(report)
    return {block: list(items.values()) for block, items in found.items()}


@dataclass
class Naming:
    """How one block class names the values of one of its realizations; `named` False writes plain values."""

    realizations: list[Realization]
    current: Realization
    raw: dict  # node id -> the node as the block writes it
    reserved: frozenset = frozenset()  # the block's param names
    named: bool = True
    sizes_read: dict = field(default_factory=dict)  # argument name -> (input id, dim) of the sizes the class reads

    def params(self, node, prefix: str = ""):
        """The node's params with a Symbol for each value the block writes as `"$name"`."""
        raw = self.raw[node.id].params if self.named and node.id in self.raw else {}
        if isinstance(node.params, dict):  # an instance's
            return {k: _named(v, reference(raw.get(k)), prefix) for k, v in node.params.items()}
        return node.params.model_copy(update={k: _named(getattr(node.params, k), reference(v), prefix)
                                              for k, v in raw.items() if k in type(node.params).model_fields})

    def shape(self, shapes: dict[int, tuple | None], prefix: str = "") -> tuple:
        """A shape known per realization (id of its report -> shape), each size that varies named."""
        mine = shapes[id(self.current.report)]
        return tuple(self.size({key: None if shape is None or index >= len(shape) else shape[index]
                                for key, shape in shapes.items()}, prefix) for index in range(len(mine)))

    def size(self, sizes: dict[int, int | None], prefix: str = ""):
        """A size known per realization, named when it varies: the block param it always equals, else an input
        size it always equals (which becomes an argument: `in_channels` for the first, `in_features` for the last
        of an input's sizes)."""
        mine = sizes[id(self.current.report)]
        known = [(r, sizes[id(r.report)]) for r in self.realizations if sizes.get(id(r.report)) is not None]
        if not self.named or len({v for _, v in known}) == 1:
            return mine
        for name, value in self.current.values.items():
            if type(value) is int and all(r.values.get(name) == v for r, v in known):
                return _named(mine, name, prefix)
        for port, shape in self.current.shapes.items():
            for k in range(len(shape)):
                if all(k < len(r.shapes[port]) and r.shapes[port][k] == v for r, v in known):
                    return _named(mine, self._argument(port, k, len(shape)), prefix)
        return mine  # unexplained: each realization writes its own value, so their texts differ

    def _argument(self, port: str, k: int, rank: int) -> str:
        """The argument that takes size `k` of input `port`."""
        for name, where in self.sizes_read.items():
            if where == (port, k):
                return name
        base = "in_features" if k == rank - 1 else "in_channels" if k == 0 else f"in_size{k}"
        name = base if len(self.current.shapes) == 1 else f"{port}_{base.removeprefix('in_')}"
        while name in self.reserved or name in self.sizes_read:
            name += "_"
        self.sizes_read[name] = (port, k)
        return name


def _named(value, name: str | None, prefix: str = ""):
    named = None if name is None else symbol(value, prefix + name)
    return value if named is None else named


@dataclass
class BlockClass:
    """A block's class (or one class per realization) and what its constructor takes."""

    names: dict[int, str]  # id(realization report) -> the class that builds it
    params: dict = field(default_factory=dict)  # block params and defaults (empty: the classes take no arguments)
    sizes: dict = field(default_factory=dict)  # the input sizes it takes first: argument -> (input id, dim)


@dataclass
class Forward:
    """A forward's argument names and lines."""

    inputs: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


class ClassWriter:
    """Writes the class of a graph and, before it, the class of every block it uses. `construct(node, params,
    code)` gives a layer's `__init__` lines; `needs` and `helpers` collect what the file must define."""

    def __init__(self, arch: Architecture, report: ShapeReport, taken: set[str], class_name, construct, docstring):
        self.arch, self.class_name, self.construct, self.docstring = arch, class_name, construct, docstring
        self.realizations = realizations(arch, report)
        self.taken = set(taken)
        self.classes: list[str] = []
        self.blocks: dict[str, BlockClass] = {}
        self.needs: set[str] = set()
        self.helpers: dict[str, None] = {}
        self._in_shapes: dict[int, dict[str, tuple]] = {}

    def block(self, name: str) -> BlockClass:
        """The class of block `name`, written once."""
        if name not in self.blocks:
            realized = self.realizations[name]
            definition = self.arch.blocks[name]
            raw = {n.id: n for n in definition.nodes}
            namings = [Naming(realized, r, raw, frozenset(definition.params)) for r in realized]
            texts = {self._block_text(name, naming) for naming in namings}
            if len(texts) == 1:
                cls, text = self._unique(self.class_name(name)), texts.pop()
                self.classes.append(text.replace("\0CLASS\0", cls))
                read = {k: v for naming in namings for k, v in naming.sizes_read.items() if _reads(text, k)}
                params = {k: v for k, v in definition.params.items() if _reads(text, k)}
                self.blocks[name] = BlockClass({id(r.report): cls for r in realized}, params, read)
            else:
                variants, names = {}, {}
                for r in realized:
                    text = self._block_text(name, Naming(realized, r, raw, named=False))
                    if text not in variants:
                        variants[text] = self._unique(self.class_name(name))
                        self.classes.append(text.replace("\0CLASS\0", variants[text]))
                    names[id(r.report)] = variants[text]
                self.blocks[name] = BlockClass(names)
        return self.blocks[name]

    def _unique(self, base: str) -> str:
        name, number = base, 1
        while name in self.taken:
            number += 1
            name = f"{base}_{number}"
        self.taken.add(name)
        return name

    def _block_text(self, name: str, naming: Naming) -> str:
        """One realization's class, under a placeholder name until it is given one."""
        report = naming.current.report
        init, forward = self.bodies(to_fx_graph(report.arch, report), report, naming)
        body = "\n".join(init + forward.lines)
        read = lambda name: _reads(body, name) or _reads(body, f"self._{name}")  # noqa: E731
        params = {p: d for p, d in self.arch.blocks[name].params.items() if naming.named and read(p)}
        sizes = [a for a in naming.sizes_read if read(a)]
        arguments = sizes + [p for p, default in params.items() if default is None]
        arguments += [f"{p}={literal(default)}" for p, default in params.items() if default is not None]
        forward_read = "\n".join(forward.lines)
        kept = [f"self._{a} = {a}" for a in (a.split("=")[0] for a in arguments) if _reads(forward_read, f"self._{a}")]
        description = self.arch.blocks[name].description or f"The block '{name}'."
        return "\n".join([
            "class \0CLASS\0(nn.Module):", self.docstring(description, 1), "",
            f"    def __init__({', '.join(['self', *arguments])}):", "        super().__init__()",
            *(f"        {line}" for line in kept + init), "",
            f"    def forward(self, {', '.join(forward.inputs)}):", *(f"        {line}" for line in forward.lines),
        ])

    def bodies(self, graph: fx.Graph, report: ShapeReport, naming: Naming | None = None) -> tuple[list[str], Forward]:
        """`__init__` and `forward` lines from a graph's fx graph (`report` describes it): its names are the
        variables."""
        init, forward = [], Forward()
        for fx_node in graph.nodes:
            if fx_node.op == "placeholder":
                forward.inputs.append(fx_node.name)
            elif fx_node.op == "output":
                results = fx_node.args[0] if isinstance(fx_node.args[0], tuple) else (fx_node.args[0],)
                forward.lines.append(f"return {', '.join(value.name for value in results)}")
            elif fx_node.op == "call_module":
                forward.lines.append(self._line(fx_node, report, init, naming))
        return init, forward

    def _line(self, call: fx.Node, report: ShapeReport, init: list[str], naming: Naming | None) -> str:
        """The forward line of one node, and its constructor in `init` when it has one."""
        node, inputs = call.meta["node"], [value.name for value in call.args]
        ports = self.arch.spec(node).outputs
        if is_instance(node):
            init.append(f"self.{node.id} = {self._instance(node, report, naming)}")
        else:
            params, shape = self._layer_values(node, call, naming)
            code = CODE[node.type](params, shape)
            if not isinstance(code, Construct):
                if naming is not None:  # what the forward itself reads, __init__ keeps as self._<name>
                    code = CODE[node.type](*self._layer_values(node, call, naming, "self._"))
                return f"{call.name} = {code.expression(inputs)}"
            init += self.construct(node, params, code, self.needs)
            self.helpers |= dict.fromkeys(code.helpers)
        # inputs at ports other than `in` by port name (a block instance's by position, as its forward takes them)
        named = [v.name if is_instance(node) else f"{k}={v.name}" for k, v in call.kwargs.items()]
        invocation = f"self.{node.id}({', '.join(inputs + named)})"
        if len(ports) == 1:
            return f"{call.name} = {invocation}"
        unpacked = {user.args[1]: user.name for user in call.users}
        targets = [unpacked.get(index, "_") for index in range(len(ports))]
        return invocation if set(targets) == {"_"} else f"{', '.join(targets)} = {invocation}"

    def _layer_values(self, node, call: fx.Node, naming: Naming | None, prefix: str = "") -> tuple:
        """A layer's params and the shape arriving at its first input port (`in`, or a cross-attention's `query`),
        named where the block varies them."""
        shape = first_shape(node, call.meta["inputs"])
        if naming is None:
            return node.params, shape
        per = {id(r.report): self._in_shape(r.report, node.id) for r in naming.realizations}
        return naming.params(node, prefix), naming.shape(per | {id(naming.current.report): shape}, prefix)

    def _in_shape(self, report: ShapeReport, node_id: str) -> tuple | None:
        """The shape arriving at a layer's first input port in one body."""
        if id(report) not in self._in_shapes:
            self._in_shapes[id(report)] = {
                n.meta["node"].id: first_shape(n.meta["node"], n.meta["inputs"])
                for n in to_fx_graph(report.arch, report).nodes
                if n.op == "call_module" and not is_instance(n.meta["node"]) and n.meta["inputs"]}
        return self._in_shapes[id(report)].get(node_id)

    def _instance(self, node, report: ShapeReport, naming: Naming | None) -> str:
        """An instance's constructor: its block's class, or an nn.Sequential with one per copy."""
        made = self.block(node.type)
        params = naming.params(node) if naming else node.params
        defaults = self.arch.blocks[node.type].params
        calls = []
        for index, copy in enumerate(report.nodes[node.id].copies):
            args = []
            for argument, (port, k) in made.sizes.items():
                per = {} if naming is None else {id(r.report): _copy_size(r.report, node.id, index, port, k)
                                                 for r in naming.realizations}
                size = _copy_size(report, node.id, index, port, k)
                args.append(f"{argument}={literal(naming.size(per | {id(report): size}) if naming else size)}")
            if made.params:
                args += [f"{k}={literal(v)}" for k, v in params.items() if v != defaults.get(k) or isinstance(v, Symbol)]
            calls.append(f"{made.names[id(copy)]}({', '.join(args)})")
        if node.repeat == 1:
            return calls[0]
        runs = _runs(calls)
        counts = [str(count) for _, count in runs]
        repeat = reference(naming.raw[node.id].repeat) if naming and naming.named else None
        if repeat is not None:  # "$name": the last run is what the others leave of it
            done = sum(count for _, count in runs[:-1])
            counts[-1] = f"{repeat} - {done}" if done else repeat
        parts = [text if count == "1" else f"*({text} for _ in range({count}))" for (text, _), count in zip(runs, counts)]
        return f"nn.Sequential({', '.join(parts)})"


def _reads(text: str, name: str) -> bool:
    """Whether generated code reads `name` as a value (not as a keyword argument's name, nor an attribute)."""
    return re.search(rf"(?<![\w.]){re.escape(name)}\b(?!\s*=[^=])", text) is not None


def first_shape(node, inputs: dict) -> tuple:
    """The sample shape arriving at a layer's first connected input port, in the order its spec lists them."""
    return next(inputs[port.name][0].shape for port in node.spec.inputs if port.name in inputs)


def _copy_size(report: ShapeReport, node_id: str, index: int, port: str, k: int) -> int | None:
    """Size `k` of what arrives at input `port` of copy `index` of an instance."""
    copies = report.nodes[node_id].copies
    shape = copies[index].nodes[port].shape.shape if index < len(copies) else ()
    return shape[k] if k < len(shape) else None


def _runs(items: list[str]) -> list[tuple[str, int]]:
    """Consecutive equal items as (item, count)."""
    runs: list[tuple[str, int]] = []
    for item in items:
        if runs and runs[-1][0] == item:
            runs[-1] = (item, runs[-1][1] + 1)
        else:
            runs.append((item, 1))
    return runs
