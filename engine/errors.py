"""Problems found in a document, the error that carries them, and pydantic's errors translated into them."""
from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import ValidationError

from .layers import REGISTRY

SHOWN_CHARS = 120  # a longer name, path or value is shortened in the middle in messages
_UNION_BRANCH = re.compile(r"constrained-\w+|\w+(-\w+)*\[.*\]|int|float|str|bool")  # pydantic's union step names


def shown(value: object, limit: int = SHOWN_CHARS) -> str:
    """A name, path or value as a message shows it: shortened in the middle when it is long."""
    text = str(value)
    if len(text) <= limit:
        return text
    half = (limit - 3) // 2
    return f"{text[:half]}...{text[-half:]} ({len(text):,} characters)"


@dataclass(frozen=True)
class Problem:
    """One user-facing problem, located at a node, an edge or a field when known."""

    message: str
    node: str | None = None  # a node id, or the dotted path of a node inside block instances: 'stage2.1.conv2'
    edge: int | None = None
    field: str | None = None
    block: str | None = None  # a problem of a block's definition: node, edge and field are inside that block

    def __str__(self) -> str:
        where = [f"block '{self.block}'"] if self.block is not None else []
        if self.node is not None:
            where.append(f"node '{shown(self.node, 60)}'")
        if self.edge is not None:
            where.append(f"edge {self.edge}")
        if self.field is not None:
            where.append(shown(self.field, 60))
        message = shown(self.message, 500)
        return f"{', '.join(where)}: {message}" if where else message


class UserError(ValueError):
    """A problem with what the user gave (a document, a file, a flag, a dataset): one line, exit status 1.

    The command line prefixes the message with the FILE or RUN_DIR it was given, unless the message already
    names its file or flag (`names_its_source`)."""

    names_its_source = False


class DocumentError(UserError):
    """A document that cannot be used; `problems` lists every reason at once."""

    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, (str, Problem)):
            problems = [problems if isinstance(problems, Problem) else Problem(problems)]
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def validation_problems(error: ValidationError, raw: dict) -> list[Problem]:
    """Pydantic's errors about a document's data as Problems naming the node (or edge) and the field."""
    return [_located(problem, raw) for problem in error_problems(error, raw)]


def error_problems(error: ValidationError, data) -> list[Problem]:
    """Pydantic's errors about `data` (what was validated) as Problems whose field is the dotted path in `data`.

    The one translator every surface uses. A union's failed branches make one Problem: the branch that fits
    the kind of value given (a list for `[3, 0]`: 'item 2: Input should be greater than or equal to 1'), or
    all of them joined with 'or' when none fits. Items of a list or tuple are counted from 1.
    """
    merged: dict[str, list[tuple[str, str | None]]] = {}
    for e in error.errors(include_url=False):
        field, branch, message = _translate(e)
        merged.setdefault(field, []).append((message, branch))
    problems = []
    for field, messages in merged.items():
        fitting = [m for m, branch in messages if branch is not None and _fits(branch, _value_at(data, field))]
        chosen = fitting or [m for m, _ in messages]
        problems.append(Problem("; or ".join(dict.fromkeys(chosen)), field=field or None))
    return problems


def _translate(error: dict) -> tuple[str, str | None, str]:
    """(dotted field path, the union branch it failed in or None, message) for one pydantic error."""
    loc = list(error["loc"])
    if len(loc) >= 3 and loc[0] == "nodes" and isinstance(loc[1], int) and (loc[2] in REGISTRY or loc[2] == "block"):
        del loc[2]  # the tagged union of node types adds its tag (a layer type, or 'block') as a step
    message = error["msg"].replace(" after validation", "")
    step = next((i for i, part in enumerate(loc) if isinstance(part, str) and _UNION_BRANCH.fullmatch(part)), None)
    branch = None
    if step is not None:  # e.g. kernel_size.tuple[constrained-int, constrained-int].1
        branch, inside, loc = loc[step], loc[step + 1:], loc[:step]
        if inside:
            message = f"item {'.'.join(str(p + 1) if isinstance(p, int) else str(p) for p in inside)}: {message}"
    field = ".".join(str(part) for part in loc)
    if error["type"] == "missing_type":
        field += ".type"
    elif error["type"] == "extra_forbidden":
        message = "unknown field"
    return field.strip("."), branch, message


def _fits(branch: str, value) -> bool:
    """Whether a union branch (pydantic's step name) is the one meant for a value of this kind."""
    if isinstance(value, bool):
        return branch == "bool"
    if isinstance(value, (int, float)):
        return branch.removeprefix("constrained-") in ("int", "float")
    if isinstance(value, (list, tuple)):
        return branch.startswith(("tuple[", "list["))
    if isinstance(value, str):
        return branch.startswith("literal[") or branch == "str"
    return False


def _value_at(data, field: str):
    """The value at a dotted path of `data` (None where it leads nowhere)."""
    for part in filter(None, field.split(".")):
        try:
            data = data[int(part)] if isinstance(data, list) else data[part]
        except (KeyError, IndexError, TypeError, ValueError):
            return None
    return data


def _located(problem: Problem, raw: dict) -> Problem:
    """A document Problem with `nodes.3.params.x` turned into node '<its id>', field `params.x` (edges alike), and
    `blocks.<name>.nodes.3...` into the same inside block '<name>'."""
    block, field = None, problem.field or ""
    if field.startswith("blocks.") and field.count(".") >= 2:
        _, block, field = field.split(".", 2)
        raw = raw.get("blocks", {}).get(block) if isinstance(raw.get("blocks"), dict) else None
        raw = raw if isinstance(raw, dict) else {}
    kind, _, rest = field.partition(".")
    index, _, inner = rest.partition(".")
    if kind not in ("nodes", "edges") or not index.isdigit():
        return Problem(problem.message, field=field or None, block=block) if block else problem
    if kind == "edges":
        return Problem(problem.message, edge=int(index), field=inner or None, block=block)
    return Problem(problem.message, node=_node_label(raw, int(index)), field=inner or None, block=block)


def _node_label(raw: dict, index: int) -> str:
    try:
        node_id = raw["nodes"][index]["id"]
        if isinstance(node_id, str) and node_id:
            return node_id
    except (KeyError, IndexError, TypeError):
        pass
    return f"#{index}"
