"""Reading and writing documents: JSON text only, validated, migrated, saved atomically."""
from __future__ import annotations

import difflib
import json
import os
import re
import stat
import tempfile
from pathlib import Path

from pydantic import ValidationError

from .document import Architecture
from .errors import DocumentError, Problem
from .layers import REGISTRY
from .migrations import migrate

MAX_FILE_BYTES = 64 * 1024 * 1024
_UNION_BRANCH = re.compile(r"constrained-\w+|\w+(-\w+)*\[.*\]|int|float|str|bool")  # pydantic's union step names


def load(path: str | os.PathLike) -> Architecture:
    """Read, migrate and validate a document file. Raises DocumentError with every problem."""
    path = Path(path)
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise DocumentError("is a folder, not a file")
        if not stat.S_ISREG(info.st_mode):  # a pipe or a device could block or never end
            raise DocumentError("is not a regular file")
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise DocumentError(f"cannot read: {error.strerror or error}") from None
    if len(data) > MAX_FILE_BYTES:
        raise DocumentError(f"file is over the {MAX_FILE_BYTES:,} byte limit")
    return loads(data)


def loads(text: str | bytes) -> Architecture:
    """Parse a document from JSON text. Raises DocumentError."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise DocumentError(f"not UTF-8 text (byte {error.start}); is this a binary file?") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise DocumentError(f"not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}") from None
    except RecursionError:
        raise DocumentError("not valid JSON: nested too deeply") from None
    except ValueError:  # the one other ValueError of json.loads: an integer beyond Python's digit limit
        raise DocumentError("not valid JSON: a number has too many digits") from None
    try:
        json.dumps(raw, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise DocumentError("not valid text: a \\u escape encodes half of a character (a lone surrogate)") from None
    return from_dict(raw)


def from_dict(raw) -> Architecture:
    """Migrate and validate already-parsed JSON data. Raises DocumentError."""
    if not isinstance(raw, dict):
        raise DocumentError(f"expected a JSON object at the top level, got {type(raw).__name__}")
    raw = migrate(raw)
    try:
        return Architecture.model_validate(raw)
    except ValidationError as error:
        raise DocumentError(_problems(error, raw)) from None


def dumps(arch: Architecture) -> str:
    """The document as pretty JSON text."""
    return json.dumps(arch.to_dict(), indent=2) + "\n"


def save(arch: Architecture, path: str | os.PathLike) -> None:
    """Write atomically: a temporary file in the same folder, flushed, then renamed over `path`."""
    path = Path(path)
    text = dumps(arch)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _problems(error: ValidationError, raw: dict) -> list[Problem]:
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
