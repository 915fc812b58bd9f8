"""Editing a block's definition in place: its graph shown as a document of its own, and edits written back.

The view shows each node with the values of one instance (the first that uses the block), so that cards and
shapes read as they compute; writing back keeps every `"$name"` whose value was left as it was, so an edit
changes the definition, and with it every instance. Positions inside a block live in the document's layout
under `<block>/<node id>`, beside the document's own (editor-only data, as the rest of the layout).
"""
from __future__ import annotations

from pydantic import ValidationError

from layerloom.engine import Architecture, NodeBase
from layerloom.engine.blocks import reference, substitute
from layerloom.engine.document import BlockNode, InstanceNode, Layout, is_instance, make_node
from layerloom.engine.inline import written


def values_of(arch: Architecture, block: str, seen: frozenset = frozenset()) -> dict:
    """The block params' values the view shows: those of the first instance (a `"$name"` there read from the block
    holding it), else the defaults; a param without either is left out."""
    values = {k: v for k, v in arch.blocks[block].params.items() if v is not None}
    holders = [(None, arch.nodes)] + [(name, b.nodes) for name, b in arch.blocks.items() if name not in seen | {block}]
    for holder, nodes in holders:
        for node in nodes:
            if node.type == block and isinstance(node.params, dict):
                outer = values_of(arch, holder, seen | {block}) if holder else {}
                given = {k: substitute(v, outer) for k, v in node.params.items()}
                return values | {k: v for k, v in given.items() if not reference(v) and v is not None}
    return values


def definition_view(arch: Architecture, block: str) -> Architecture:
    """Block `block`'s graph as a document (its nodes with `values_of` substituted), for the canvas to edit."""
    definition, values = arch.blocks[block], values_of(arch, block)
    nodes = [_shown(n, values) for n in definition.nodes]
    prefix = f"{block}/"
    layout = Layout(nodes={k[len(prefix):]: v for k, v in arch.layout.nodes.items() if k.startswith(prefix)})
    return Architecture.model_construct(name=block, description=definition.description, blocks=arch.blocks,
                                        nodes=nodes, edges=list(definition.edges), layout=layout)


def _shown(node: BlockNode, values: dict) -> NodeBase | InstanceNode:
    params = {k: substitute(v, values) for k, v in node.params.items()}
    if is_instance(node):
        repeat = substitute(node.repeat, values)
        return InstanceNode.model_construct(id=node.id, type=node.type, params=params,
                                            repeat=repeat if isinstance(repeat, int) else 1)
    if node.type == "input":
        return make_node(node.id, "input")
    try:
        return make_node(node.id, node.type, **params)
    except ValidationError:  # a value no instance gives: the layer's own default stands in for it
        return make_node(node.id, node.type, **{k: v for k, v in params.items() if not reference(v)})


def write_back(arch: Architecture, block: str, view: Architecture) -> Architecture:
    """The document with block `block` defined by the edited `view`: a value still equal to what a `"$name"` gave
    stays `"$name"`; positions go to the layout under `<block>/`."""
    definition, values = arch.blocks[block], values_of(arch, block)
    before = {n.id: n for n in definition.nodes}
    nodes = []
    for node in view.nodes:
        new = BlockNode(id=node.id, type="input") if node.type == "input" else written(node)
        old = before.get(node.id)
        if old is not None and old.type == node.type:
            kept = {k: v for k, v in old.params.items() if reference(v) and new.params.get(k, _default(node, k)) == substitute(v, values)}
            new = new.model_copy(update={"params": {**new.params, **kept}})
            if is_instance(node) and reference(old.repeat) and node.repeat == substitute(old.repeat, values):
                new = new.model_copy(update={"repeat": old.repeat})
        nodes.append(new)
    changed = definition.model_copy(update={"nodes": nodes, "edges": list(view.edges)})
    prefix = f"{block}/"
    positions = {k: v for k, v in arch.layout.nodes.items() if not k.startswith(prefix)}
    positions |= {prefix + k: v for k, v in view.layout.nodes.items()}
    return arch.model_copy(update={"blocks": {**arch.blocks, block: changed},
                                   "layout": arch.layout.model_copy(update={"nodes": positions})})


def _default(node, field: str):
    """A layer's value of `field` when it is left at its default (written() leaves those out)."""
    return getattr(node.params, field, None) if not is_instance(node) else None
