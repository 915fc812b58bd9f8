"""Problems found in a document, the error that carries them, and pydantic's errors translated into them."""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from pydantic import ValidationError

from .layers import REGISTRY

_UNION_BRANCH = re.compile(r"constrained-\w+|\w+(-\w+)*\[.*\]|int|float|str|bool")  # pydantic's union step names


@dataclass(frozen=True)
class Problem:
    """One user-facing problem, located at a node, an edge or a field when known."""

    message: str
    node: str | None = None
    edge: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = []
        if self.node is not None:
            where.append(f"node '{self.node}'")
        if self.edge is not None:
            where.append(f"edge {self.edge}")
        if self.field is not None:
            where.append(self.field)
        return f"{', '.join(where)}: {self.message}" if where else self.message


class DocumentError(ValueError):
    """A document that cannot be used; `problems` lists every reason at once."""

    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, (str, Problem)):
            problems = [problems if isinstance(problems, Problem) else Problem(problems)]
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def validation_problems(error: ValidationError, raw: dict) -> list[Problem]:
    """Pydantic's errors as Problems; the failed branches of a union (a number, or a pair) make one Problem."""
    merged: dict[tuple, list[str]] = {}
    for problem in (_problem(e, raw) for e in error.errors(include_url=False)):
        merged.setdefault((problem.node, problem.edge, problem.field), []).append(problem.message)
    return [Problem("; or ".join(dict.fromkeys(messages)), node, edge, field)
            for (node, edge, field), messages in merged.items()]


def _problem(error: dict, raw: dict) -> Problem:
    """A pydantic error as a Problem naming the node (or edge) and the field."""
    loc = list(error["loc"])
    node = edge = None
    if len(loc) >= 2 and loc[0] == "nodes" and isinstance(loc[1], int):
        node = _node_label(raw, loc[1])
        loc = loc[2:]
        if loc and loc[0] in REGISTRY:  # the discriminated union adds the type as a step
            loc = loc[1:]
    elif len(loc) >= 2 and loc[0] == "edges" and isinstance(loc[1], int):
        edge, loc = loc[1], loc[2:]
    message = error["msg"]
    branch = next((i for i, part in enumerate(loc) if isinstance(part, str) and _UNION_BRANCH.fullmatch(part)), None)
    if branch is not None:  # e.g. kernel_size.tuple[constrained-int, constrained-int].0
        inside, loc = loc[branch + 1:], loc[:branch]
        message = f"item {'.'.join(map(str, inside))}: {message}" if inside else message
    field = ".".join(str(part) for part in loc) or None
    if error["type"] == "union_tag_invalid":
        tag = error["ctx"]["tag"]
        close = difflib.get_close_matches(tag, REGISTRY, n=1)
        message = f"unknown layer type '{tag}'" + (f"; did you mean '{close[0]}'?" if close else "")
        field = "type"
    elif error["type"] == "union_tag_not_found":
        message, field = "missing 'type'", "type"
    elif error["type"] == "extra_forbidden":
        message = "unknown field"
    return Problem(message, node=node, edge=edge, field=field)


def _node_label(raw: dict, index: int) -> str:
    try:
        node_id = raw["nodes"][index]["id"]
        if isinstance(node_id, str) and node_id:
            return node_id
    except (KeyError, IndexError, TypeError):
        pass
    return f"#{index}"
