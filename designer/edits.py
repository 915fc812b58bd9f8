"""Pure edits of an Architecture: each takes a document and returns a new one (no Qt here)."""
from __future__ import annotations

from typing import Any, Iterable

from pydantic import ValidationError

from layerloom.engine import Architecture, DocumentError, Edge, Problem, inline, make_node
from layerloom.engine.document import Frame, Layout, free_id, is_valid_id
from layerloom.engine.errors import error_problems
from layerloom.engine.layers import REGISTRY
from layerloom.engine.blocks import node_problems
from layerloom.engine.builtin_blocks import builtin_blocks, with_builtin
from layerloom.engine.validate import connection_problems


class EditError(ValueError):
    """An edit that is refused; the message says why, and `problems` (when the engine found them) where."""

    def __init__(self, message: str, problems: Iterable[Problem] = ()):
        super().__init__(message)
        self.problems = list(problems)


def unique_id(arch: Architecture, base: str, taken: Iterable[str] = ()) -> str:
    """`base`, or `base_2`, `base_3`... whichever is free and a valid id."""
    return free_id(base, {n.id for n in arch.nodes} | set(taken))


def with_type(arch: Architecture, layer_type: str) -> tuple[Architecture, str]:
    """`arch` able to hold a node of `layer_type`, and the type's name there: a built-in block the document does not
    define is copied into its blocks first."""
    if layer_type in REGISTRY or layer_type in arch.blocks or layer_type not in builtin_blocks():
        return arch, layer_type
    return with_builtin(arch, layer_type)


def add_node(arch: Architecture, layer_type: str, position: tuple[float, float] | None = None,
             params: dict[str, Any] | None = None, node_id: str | None = None) -> tuple[Architecture, str]:
    """Add a node of `layer_type` (or an instance of the block of that name, a built-in one copied in first);
    returns the new document and the new node's id."""
    arch, layer_type = with_type(arch, layer_type)
    if layer_type not in REGISTRY and layer_type not in arch.blocks:
        raise EditError(f"unknown layer type or block '{layer_type}'")
    new_id = node_id if node_id and node_id not in {n.id for n in arch.nodes} else unique_id(arch, node_id or layer_type)
    node = make_node(new_id, layer_type, **(params or {}))
    layout = arch.layout.moved({new_id: position}) if position is not None else arch.layout
    return arch.model_copy(update={"nodes": [*arch.nodes, node], "layout": layout}), new_id


def group(arch: Architecture, ids: Iterable[str]) -> tuple[Architecture, str]:
    """The selected nodes made into a new block and one instance of it, placed where they were; raises EditError
    (with the engine's reason) when they cannot be."""
    ids = list(ids)
    try:
        grouped, instance = inline.group(arch, ids)
    except DocumentError as error:
        raise EditError(str(error)) from None
    placed = [arch.layout.nodes[i] for i in ids if i in arch.layout.nodes]
    if not placed:
        return grouped, instance
    left, top = min(x for x, _ in placed), min(y for _, y in placed)
    block = grouped.node(instance).type
    inner = {f"{block}/{i}": (x - left, y - top) for i, (x, y) in arch.layout.nodes.items() if i in ids}
    positions = {k: v for k, v in grouped.layout.nodes.items() if k not in ids} | inner | {instance: (left, top)}
    return grouped.model_copy(update={"layout": grouped.layout.model_copy(update={"nodes": positions})}), instance


def ungroup(arch: Architecture, node_id: str) -> tuple[Architecture, list[str]]:
    """An instance replaced by its block's nodes (each copy beside the one before), the definition kept; returns
    the new node ids. Raises EditError when its body cannot be built."""
    node = arch.node(node_id)
    try:
        inlined = inline.inline(arch, node_id)
    except DocumentError as error:
        raise EditError(str(error)) from None
    new = [n.id for n in inlined.nodes if n.id not in {m.id for m in arch.nodes}]
    x, y = arch.layout.nodes.get(node_id, (0.0, 0.0))
    inner = {k.split("/", 1)[1]: v for k, v in arch.layout.nodes.items() if k.startswith(f"{node.type}/")}
    width = max((p[0] for p in inner.values()), default=0.0) + 240.0
    positions = {}
    for copy in range(node.repeat):
        stem = f"{node_id}_{copy}_" if node.repeat > 1 else f"{node_id}_"
        for inner_id, (dx, dy) in inner.items():
            if stem + inner_id in new:
                positions[stem + inner_id] = (x + copy * width + dx, y + dy)
    return move_nodes(inlined, positions), new


def remove_nodes(arch: Architecture, ids: Iterable[str]) -> Architecture:
    """Remove nodes and every edge touching them."""
    gone = set(ids)
    return arch.model_copy(update={
        "nodes": [n for n in arch.nodes if n.id not in gone],
        "edges": [e for e in arch.edges if e.source not in gone and e.target not in gone],
        "layout": _positions(arch, {k: v for k, v in arch.layout.nodes.items() if k not in gone}),
    })


def connect(arch: Architecture, edge: Edge) -> Architecture:
    """Add an edge; the engine's rules refuse unknown ports, a taken single-input port, duplicates and cycles."""
    problems = connection_problems(arch, edge)
    if problems:
        raise EditError("; ".join(p.message for p in problems), problems)
    return arch.model_copy(update={"edges": [*arch.edges, edge]})


def disconnect(arch: Architecture, edges: Iterable[Edge]) -> Architecture:
    gone = set(edges)
    return arch.model_copy(update={"edges": [e for e in arch.edges if e not in gone]})


def set_params(arch: Architecture, node_id: str, params: dict[str, Any]) -> Architecture:
    """Replace a node's params, validated; raises EditError with the engine's problems, each naming its field."""
    node = arch.node(node_id)
    try:
        validated = node.spec.params.model_validate(params)
    except ValidationError as error:
        problems = error_problems(error, params)
        raise EditError("; ".join(map(str, problems)), problems) from None
    changed = node.model_copy(update={"params": validated})
    return arch.model_copy(update={"nodes": [changed if n is node else n for n in arch.nodes]})


def set_instance(arch: Architecture, node_id: str, params: dict[str, Any], repeat: int) -> Architecture:
    """Set a block instance's params (those equal to the block's defaults are left out) and repeat, checked as
    the engine checks them; raises EditError naming the field."""
    node, defaults = arch.node(node_id), arch.blocks[arch.node(node_id).type].params
    given = {k: v for k, v in params.items() if k not in defaults or defaults[k] != v}
    problems = [p for p in node_problems(arch, node.model_copy(update={"params": given, "repeat": repeat}), None, None)
                if p.field is not None]
    if problems:
        raise EditError("; ".join(p.message for p in problems),
                        [Problem(p.message, p.node, p.edge, p.field.removeprefix("params.")) for p in problems])
    changed = node.model_copy(update={"params": given, "repeat": repeat})
    return arch.model_copy(update={"nodes": [changed if n is node else n for n in arch.nodes]})


def rename(arch: Architecture, old: str, new: str) -> Architecture:
    """Rename a node everywhere: node, edges and layout."""
    if new == old:
        return arch
    if not is_valid_id(new):
        raise EditError(f"'{new}' is not a valid id: use letters, digits and _, not starting with a digit")
    if any(n.id == new for n in arch.nodes):
        raise EditError(f"'{new}' is already used by another node")
    swap = lambda x: new if x == old else x  # noqa: E731
    return arch.model_copy(update={
        "nodes": [n.model_copy(update={"id": new}) if n.id == old else n for n in arch.nodes],
        "edges": [e.model_copy(update={"source": swap(e.source), "target": swap(e.target)}) for e in arch.edges],
        "layout": _positions(arch, {swap(k): v for k, v in arch.layout.nodes.items()}),
    })


def move_nodes(arch: Architecture, positions: dict[str, tuple[float, float]]) -> Architecture:
    return arch.model_copy(update={"layout": arch.layout.moved(positions)})


def _positions(arch: Architecture, positions: dict[str, tuple[float, float]]) -> Layout:
    """`arch`'s layout with exactly these node positions (its frames kept)."""
    return arch.layout.model_copy(update={"nodes": positions})


def insert_on_edge(arch: Architecture, edge: Edge, layer_type: str,
                   position: tuple[float, float] | None = None) -> tuple[Architecture, str]:
    """Split `edge` with a new node of `layer_type` (connected through its `in` and `out` ports)."""
    spec = REGISTRY[layer_type]
    if not spec.input_port("in") or "out" not in spec.outputs:
        raise EditError(f"a {layer_type} node cannot be inserted on an edge")
    arch, new_id = add_node(arch, layer_type, position)
    arch = disconnect(arch, [edge])
    arch = connect(arch, Edge(source=edge.source, source_port=edge.source_port, target=new_id))
    return connect(arch, Edge(source=new_id, target=edge.target, target_port=edge.target_port)), new_id


def subgraph(arch: Architecture, ids: Iterable[str]) -> dict:
    """The selected nodes, the edges among them and their layout, as clipboard JSON data."""
    keep = set(ids)
    part = arch.model_copy(update={
        "nodes": [n for n in arch.nodes if n.id in keep],
        "edges": [e for e in arch.edges if e.source in keep and e.target in keep],
        "layout": Layout(nodes={k: v for k, v in arch.layout.nodes.items() if k in keep}),
        "training": None,
    })
    return part.to_dict()


def paste(arch: Architecture, data: dict, offset: tuple[float, float] = (40.0, 40.0)) -> tuple[Architecture, list[str]]:
    """Add clipboard nodes with fresh unique ids, shifted by `offset`; returns the new ids."""
    from layerloom.engine import from_dict
    part = from_dict(data)
    mapping: dict[str, str] = {}
    for node in part.nodes:
        mapping[node.id] = unique_id(arch, node.id, mapping.values())
    nodes = [n.model_copy(update={"id": mapping[n.id]}) for n in part.nodes]
    edges = [e.model_copy(update={"source": mapping[e.source], "target": mapping[e.target]}) for e in part.edges]
    layout = {mapping[k]: (x + offset[0], y + offset[1]) for k, (x, y) in part.layout.nodes.items() if k in mapping}
    return arch.model_copy(update={
        "nodes": [*arch.nodes, *nodes], "edges": [*arch.edges, *edges], "layout": arch.layout.moved(layout),
    }), [mapping[n.id] for n in part.nodes]


def add_frame(arch: Architecture, frame: Frame) -> Architecture:
    return arch.model_copy(update={"layout": arch.layout.model_copy(update={"frames": [*arch.layout.frames, frame]})})


def set_frame(arch: Architecture, index: int, frame: Frame | None) -> Architecture:
    """Replace the index-th frame, or remove it when `frame` is None."""
    frames = [*arch.layout.frames[:index], *([frame] if frame is not None else []), *arch.layout.frames[index + 1:]]
    return arch.model_copy(update={"layout": arch.layout.model_copy(update={"frames": frames})})
