"""What editor a pydantic field needs, read from its annotation and constraints; parsing and explaining text entries."""
from __future__ import annotations

import re
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic.fields import FieldInfo


def field_label(name: str) -> str:
    """'out_channels' -> 'Out channels'."""
    return name.replace("_", " ").capitalize()


def _unwrap(annotation):
    """The annotation without its Annotated wrappers."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _branches(annotation) -> list:
    """The alternatives of a union (flattened, unwrapped); [annotation] for anything else."""
    annotation = _unwrap(annotation)
    if get_origin(annotation) in (Union, types.UnionType):
        return [b for arg in get_args(annotation) for b in _branches(arg)]
    return [annotation]


def bounds(constraints: list) -> tuple[float | None, float | None]:
    """(low, high) from Ge/Gt and Le/Lt constraints; a strict bound is kept and enforced by validation."""
    low = high = None
    for item in constraints:
        low = next((v for v in (getattr(item, "ge", None), getattr(item, "gt", None)) if v is not None), low)
        high = next((v for v in (getattr(item, "le", None), getattr(item, "lt", None)) if v is not None), high)
    return low, high


def _constraints(annotation) -> list:
    """Every constraint (Ge, Le...) that Annotated attaches anywhere inside `annotation`."""
    found = []
    if get_origin(annotation) is Annotated:
        base, *extra = get_args(annotation)
        found = [m for item in extra for m in (item.metadata if isinstance(item, FieldInfo) else [item])]
        return found + _constraints(base)
    return [c for arg in get_args(annotation) for c in _constraints(arg)]


def editor_kind(field: FieldInfo) -> tuple[str, bool, list]:
    """(kind, optional, extra) for a field: 'int', 'float', 'bool', 'str' (extra: constraints); 'choice' (the
    values); 'path' (a field marked `json_schema_extra={"picker": "file" | "folder"}`; extra: [picker]); 'ints'
    (a tuple of ints, a size; extra: each item's constraints); 'text' (extra: the branches of a union that
    `parse_text` reads: a number, a tuple, a keyword...)."""
    branches = _branches(field.annotation)
    optional = type(None) in branches
    values = [b for b in branches if b is not type(None)]
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    if extra.get("picker") in ("file", "folder"):
        return "path", optional, [extra["picker"]]
    items = get_args(values[0]) if len(values) == 1 and get_origin(values[0]) is tuple else ()
    if items and Ellipsis not in items and all(_unwrap(item) is int for item in items):
        return "ints", optional, [_constraints(item) for item in items]
    if len(values) == 1 and values[0] in (bool, int, float, str):
        return values[0].__name__, optional, [*field.metadata, *_constraints(field.annotation)]
    if len(values) == 1 and get_origin(values[0]) is Literal:
        return "choice", optional, list(get_args(values[0]))
    return "text", optional, values


def _is_sequence(branch) -> bool:
    return get_origin(_unwrap(branch)) in (list, tuple)


def text_hint(values: list) -> str:
    """What the text editor accepts, e.g. '3  or  3, 5  or  same / valid'."""
    forms = []
    for branch in values:
        origin, args = get_origin(branch), get_args(branch)
        if branch is int:
            forms.append("3")
        elif origin is tuple:
            forms.append(", ".join(str(3 + 2 * i) for i in range(len(args))))
        elif origin is list:
            forms.append("1, 8, 8")
        elif origin is Literal:
            forms.append(" / ".join(args))
    return "  or  ".join(forms)


def format_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def parse_text(text: str, values: list) -> Any:
    """'3' -> 3, '3, 5' -> [3, 5], 'same' -> 'same'; a list-only field always gets a list."""
    tokens = [t for t in re.split(r"[\s,]+", text.strip().strip("[]()")) if t]
    parsed = [int(t) if re.fullmatch(r"[+-]?\d+", t) else t for t in tokens]
    scalar = any(not _is_sequence(b) for b in values)
    return parsed[0] if len(parsed) == 1 and scalar else parsed
