"""Markdown reference of every layer type, generated from the registry (`python -m layerloom.engine.layer_docs`)."""
from __future__ import annotations

import operator
import sys
import types
import typing

import torch
import torch.nn.functional as F

from pydantic.fields import FieldInfo

from .layers import CATEGORIES, REGISTRY, LayerSpec


def render_layer_docs() -> str:
    """docs/layers.md: one section per palette category, one table of params per layer type."""
    lines = [
        "# Layer reference",
        "",
        "Generated from the layer registry by `python -m layerloom.engine.layer_docs`; do not edit by hand.",
        "Shapes exclude the batch dimension. Sizes a layer receives are inferred, never written.",
    ]
    for category in CATEGORIES:
        lines += ["", f"## {category}"]
        for spec in (s for s in REGISTRY.values() if s.category == category):
            lines += ["", *_layer_section(spec)]
    return "\n".join(lines) + "\n"


def _layer_section(spec: LayerSpec) -> list[str]:
    ports_in = ", ".join(p.name + ("?" if p.optional else "") + ("*" if p.multiple else "") for p in spec.inputs)
    lines = [
        f"### `{spec.type}` ({spec.palette_name or spec.type})",
        "",
        spec.doc,
        "",
        f"Inputs: {ports_in or 'none'}. Outputs: {', '.join(spec.outputs) or 'none'}.",
    ]
    if spec.presets:
        lines[-1] += " Palette presets: " + ", ".join(spec.presets) + "."
    if spec.aliases:
        lines[-1] += " Also found as: " + ", ".join(spec.aliases) + "."
    if spec.inside:
        lines += ["", "Inside:", "", "```", spec.inside, "```"]
    imported = _imported_from(spec)
    if imported:
        lines += ["", f"`layerloom import` maps: {imported}."]
    fields = spec.params.model_fields
    if fields:
        lines += ["", "| param | type | default | meaning |", "|---|---|---|---|"]
        lines += [f"| `{name}` | {_type_text(f)} | `{f.default!r}` | {f.description or ''} |" for name, f in fields.items()]
    return lines


_OPERATORS = {operator.add: "`a + b`", operator.mul: "`a * b`", operator.getitem: "indexing `x[...]`"}


def _imported_from(spec: LayerSpec) -> str:
    """'`nn.ReLU`, `F.relu`, `torch.relu`, `x.relu()`': what the importer turns into this layer."""
    names = [f"`nn.{cls.__name__}`" for cls in (*spec.imports.modules, *spec.imports.calls, *spec.imports.chains)]
    for function in spec.imports.functions:
        if isinstance(function, str):  # a function of a package LayerLoom does not depend on, by its path
            names.append(f"`{function.rpartition('.')[0]}`")
            continue
        owner = next((label for label, module in (("F", F), ("torch", torch)) if getattr(module, function.__name__,
                                                                                     None) is function), None)
        names.append(_OPERATORS.get(function) or f"`{owner or function.__module__}.{function.__name__}`")
    return ", ".join(names + [f"`x.{name}()`" for name in spec.imports.methods])


def _type_text(field: FieldInfo) -> str:
    return _annotation_text(field.annotation).replace("|", "\\|")


def _annotation_text(annotation) -> str:
    """A readable name for a params annotation: 'int or [int, int]', 'list of int', choices in backticks."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(f"`{a}`" for a in args)
    if origin is typing.Annotated:
        return _annotation_text(args[0])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_annotation_text(a) for a in args)
    if origin is tuple:
        return "[" + ", ".join(_annotation_text(a) for a in args) + "]"
    if origin is list:
        return "list of " + _annotation_text(args[0])
    return "null" if annotation is type(None) else getattr(annotation, "__name__", str(annotation))


if __name__ == "__main__":
    sys.stdout.write(render_layer_docs())
