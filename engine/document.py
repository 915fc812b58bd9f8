"""The architecture document: nodes, edges, blocks, layout and training, as validated pydantic models.

A node is a layer (its `type` is in the layer registry, its `params` that layer's params model) or an instance
of a block (its `type` names an entry of the document's `blocks`: a reusable subgraph with params of its own).
"""
from __future__ import annotations

import functools
import keyword
import re
import unicodedata
from typing import Annotated, Any, Iterable, Literal, Union

import networkx as nx
from pydantic import (BaseModel, ConfigDict, Discriminator, Field, JsonValue, Tag, TypeAdapter, create_model,
                      field_validator)

from .layers import REGISTRY, InputPort, LayerParams, LayerSpec
from .config import TrainingConfig

FORMAT_VERSION = 2
BLOCK_CATEGORY = "Blocks"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class NodeBase(_Model):
    """A layer in the graph; `params` is the params model of its `type`."""

    id: str = Field(min_length=1, max_length=200, description="Unique Python identifier naming the layer.")
    type: str
    params: LayerParams

    @property
    def spec(self):
        return REGISTRY[self.type]


def _node_model(layer_type: str, params: type[LayerParams]) -> type[NodeBase]:
    name = "".join(part.capitalize() for part in layer_type.split("_")) + "Node"
    return create_model(
        name, __base__=NodeBase,
        type=(Literal[layer_type], ...),
        params=(params, Field(default_factory=params)),
    )


class Edge(_Model):
    """A connection from an output port of one node to an input port of another."""

    source: str
    target: str
    source_port: str = "out"
    target_port: str = "in"


FRAME_COLORS = ("gray", "blue", "green", "yellow", "orange", "red", "purple")


class Frame(_Model):
    """A titled, colored rectangle drawn behind a group of nodes; it carries the nodes inside it when moved."""

    title: str = Field("", max_length=200)
    color: Literal[FRAME_COLORS] = "gray"
    rect: tuple[float, float, float, float] = Field(description="x, y, width and height in canvas units.")

    @field_validator("rect")
    @classmethod
    def _positive_size(cls, rect: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        if rect[2] <= 0 or rect[3] <= 0:
            raise ValueError("width and height must be positive")
        return rect


class Layout(_Model):
    """Editor-only data, never part of the model: where each node sits (top-left corner) and the frames."""

    nodes: dict[str, tuple[float, float]] = Field(default_factory=dict)
    frames: list[Frame] = Field(default_factory=list, max_length=10_000)

    def moved(self, positions: dict[str, tuple[float, float]]) -> "Layout":
        """This layout with `positions` (node id -> corner) set."""
        placed = {k: (float(x), float(y)) for k, (x, y) in positions.items()}
        return self.model_copy(update={"nodes": {**self.nodes, **placed}})

    def to_dict(self) -> dict:
        data: dict[str, Any] = {"nodes": {k: list(v) for k, v in self.nodes.items()}}
        if self.frames:
            data["frames"] = [f.model_dump(mode="json", exclude_defaults=True) | {"rect": list(f.rect)}
                              for f in self.frames]
        return data


class InstanceNode(_Model):
    """A use of a block: `type` names one of the document's `blocks`, `params` set its block params (the others
    keep their defaults) and `repeat` chains that many copies, output to input (one-input, one-output blocks)."""

    id: str = Field(min_length=1, max_length=200, description="Unique Python identifier naming the instance.")
    type: str = Field(json_schema_extra={"not": {"enum": sorted(REGISTRY)}},
                      description="The name of a block defined in the document's `blocks`.")
    params: dict[str, JsonValue] = Field(default_factory=dict, description="Values of the block's params.")
    repeat: int = Field(1, ge=1, description="Copies chained output to input: submodules id.0, id.1, ...")


NODE_MODELS = {t: _node_model(t, spec.params) for t, spec in REGISTRY.items()}


def _node_kind(value) -> str | None:
    """The union branch of a node: its layer type, or 'block' for any other type (an instance)."""
    node_type = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    if not isinstance(node_type, str):
        return None
    return node_type if node_type in REGISTRY else "block"


Node = Annotated[
    Union[tuple(Annotated[model, Tag(t)] for t, model in NODE_MODELS.items()) + (Annotated[InstanceNode, Tag("block")],)],
    Discriminator(_node_kind, custom_error_type="missing_type", custom_error_message="missing 'type'"),
]
_NODE_ADAPTER = TypeAdapter(Node)


def make_node(id: str, type: str, **params: Any) -> NodeBase | InstanceNode:
    """Build a validated node, e.g. `make_node("conv1", "conv2d", out_channels=6)` or `make_node("s1", "basic")`."""
    return _NODE_ADAPTER.validate_python({"id": id, "type": type, "params": params})


def is_instance(node) -> bool:
    """Whether a node (of a document or of a block definition) is a block instance rather than a layer."""
    return node.type not in REGISTRY


class BlockNode(_Model):
    """A node inside a block definition, as written: any param value (and `repeat`) may be `"$name"`, replaced by
    the instance's value of the block param `name`; types are checked after substitution, per instance."""

    id: str = Field(min_length=1, max_length=200)
    type: str = Field(description="A layer type or the name of another block.")
    params: dict[str, JsonValue] = Field(default_factory=dict)
    repeat: int | str = Field(1, description="Copies of a block instance, or \"$name\".")


class BlockDef(_Model):
    """A reusable subgraph: its `input` nodes (no shape: it comes from the edge into each instance) and `output`
    nodes are its ports; `params` names its block params with their defaults (null: no default, always given)."""

    description: str = Field("", max_length=20_000)
    params: dict[str, JsonValue] = Field(default_factory=dict)
    nodes: list[BlockNode] = Field(default_factory=list, max_length=100_000)
    edges: list[Edge] = Field(default_factory=list, max_length=1_000_000)

    @property
    def input_ids(self) -> list[str]:
        return [n.id for n in self.nodes if n.type == "input"]

    @property
    def output_ids(self) -> list[str]:
        return [n.id for n in self.nodes if n.type == "output"]

    def to_dict(self) -> dict:
        data: dict[str, Any] = {"description": self.description} if self.description else {}
        if self.params:
            data["params"] = dict(self.params)
        data["nodes"] = [_node_dict(n) for n in self.nodes]
        data["edges"] = [e.model_dump(mode="json", exclude_defaults=True) for e in self.edges]
        return data


class Architecture(_Model):
    """A whole LayerLoom document."""

    format_version: Literal[2] = FORMAT_VERSION
    name: str = Field("Untitled", max_length=200)
    description: str = Field("", max_length=20_000)
    blocks: dict[str, BlockDef] = Field(default_factory=dict, max_length=10_000,
                                        description="Reusable subgraphs by name; a node whose type is one is an instance.")
    nodes: list[Node] = Field(default_factory=list, max_length=100_000)
    edges: list[Edge] = Field(default_factory=list, max_length=1_000_000)
    layout: Layout = Field(default_factory=Layout)
    training: TrainingConfig | None = None

    def spec(self, node) -> LayerSpec | None:
        """What a node is: its layer's spec, or for an instance its block's spec (ports, doc, category 'Blocks');
        None for an instance of a block the document does not define."""
        if not is_instance(node):
            return REGISTRY[node.type]
        definition = self.blocks.get(node.type)
        return None if definition is None else block_spec(node.type, definition)

    def node(self, node_id: str) -> NodeBase:
        """The node with this id (the first, if ids are duplicated)."""
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def graph(self) -> nx.MultiDiGraph:
        """A networkx view: nodes keyed by id (attribute `node`), edges keyed by their index in `edges`."""
        g = nx.MultiDiGraph()
        for node in self.nodes:
            if node.id not in g:
                g.add_node(node.id, node=node)
        for index, edge in enumerate(self.edges):
            if edge.source in g and edge.target in g:
                g.add_edge(edge.source, edge.target, key=index, edge=edge)
        return g

    def to_dict(self) -> dict:
        """Plain JSON data: params and edge ports that equal their defaults are left out."""
        data: dict[str, Any] = {"format_version": self.format_version, "name": self.name}
        if self.description:
            data["description"] = self.description
        if self.blocks:
            data["blocks"] = {name: block.to_dict() for name, block in self.blocks.items()}
        data["nodes"] = [_node_dict(n) for n in self.nodes]
        data["edges"] = [e.model_dump(mode="json", exclude_defaults=True) for e in self.edges]
        if self.layout.nodes or self.layout.frames:
            data["layout"] = self.layout.to_dict()
        if self.training is not None:
            data["training"] = self.training.model_dump(mode="json", exclude_defaults=True)
        return data


def _node_dict(node) -> dict:
    data: dict[str, Any] = {"id": node.id, "type": node.type}
    params = node.params.model_dump(mode="json", exclude_defaults=True) if isinstance(node, NodeBase) else node.params
    if params:
        data["params"] = dict(params)
    if getattr(node, "repeat", 1) != 1:
        data["repeat"] = node.repeat
    return data


_SPECS: dict[int, tuple[BlockDef, str, LayerSpec]] = {}  # id(definition) -> (definition kept alive, name, spec)


def params_model(name: str, block: BlockDef) -> type[BaseModel]:
    """A form of an instance's settings: the block's params (typed by their defaults; a param without a default is
    required) and `repeat`. The values are checked as they are used, per instance, after substitution."""
    kinds = {bool: bool, int: int, float: float, str: str}
    fields = {param: ((kinds.get(type(default), JsonValue), ...) if default is None else
                      (kinds.get(type(default), JsonValue), Field(default)))
              for param, default in block.params.items()}
    fields["repeat"] = (int, Field(1, ge=1, description="Copies chained output to input."))
    return create_model(f"{name}_settings", __config__={"extra": "forbid"}, **fields)


def block_spec(name: str, block: BlockDef) -> LayerSpec:
    """A block seen as a layer: its ports are its input and output node ids ('in' and 'out' when it has one of
    each), its doc its description, its card its params."""
    cached = _SPECS.get(id(block))
    if cached is not None and cached[0] is block and cached[1] == name:
        return cached[2]
    inputs, outputs = block.input_ids, block.output_ids
    spec = LayerSpec(
        type=name, category=BLOCK_CATEGORY, doc=block.description or f"block {name}",
        inputs=(InputPort(),) if len(inputs) == 1 else tuple(InputPort(i) for i in inputs),
        outputs=("out",) if len(outputs) == 1 else tuple(outputs), card=tuple(block.params),
        params=params_model(name, block),
    )
    if len(_SPECS) > 4096:
        _SPECS.clear()
    _SPECS[id(block)] = (block, name, spec)
    return spec


def misread(name: str) -> str | None:
    """What Python reads the identifier `name` as when that is not how it is written, else None: Python applies
    NFKC normalization to identifiers, which makes 'Ａ' and 'A' (or 'ﬁ' and 'fi') one name."""
    normal = unicodedata.normalize("NFKC", name)
    return normal if normal != name else None


def is_python_name(name: str) -> bool:
    """A Python identifier that Python reads as written (`misread`), and no keyword: a name generated code can use."""
    return name.isidentifier() and misread(name) is None and not keyword.iskeyword(name)


def is_valid_id(node_id: str) -> bool:
    """A usable node id: a Python name (`is_python_name`) that no attribute of a compiled model has (e.g. 'forward',
    'graph')."""
    return is_python_name(node_id) and node_id not in _reserved_names()


def free_id(base: str, used: Iterable[str]) -> str:
    """`base` made a valid id (non-word characters become _), or `base_2`, `base_3`... whichever is not in `used`."""
    base = re.sub(r"\W", "_", unicodedata.normalize("NFKC", base)) or "node"
    if not (base[0].isalpha() or base[0] == "_"):
        base = f"n_{base}"
    used = set(used)
    stem = re.sub(r"_\d+$", "", base)
    candidate, number = base, 1
    while candidate in used or not is_valid_id(candidate):
        number += 1
        candidate = f"{stem}_{number}"
    return candidate


@functools.cache
def _reserved_names() -> frozenset[str]:
    """Attribute names of a compiled model: node ids name its submodules, so they must not shadow these."""
    from torch import fx, nn
    # `self` is forward's first argument in the generated code: an input or layer of that name would shadow it
    return frozenset(dir(fx.GraphModule(nn.Module(), fx.Graph()))) | {"input_names", "output_names", "self"}
