"""Reading and writing documents: JSON text only, validated, migrated, saved atomically."""
from __future__ import annotations

import json
import os

from pydantic import ValidationError

from . import fileio
from .blocks import type_problems
from .document import Architecture
from .errors import DocumentError, validation_problems
from .migrations import migrate

MAX_FILE_BYTES = 64 * 1024 * 1024


def load(path: str | os.PathLike) -> Architecture:
    """Read, migrate and validate a document file. Raises DocumentError with every problem."""
    try:
        data = fileio.read_bytes(path, MAX_FILE_BYTES, "document")
    except fileio.FileError as error:
        raise DocumentError(f"cannot read: {error.why}") from None
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
    """Migrate and validate already-parsed JSON data, with the file format's strict types: 64 is a number and
    "64" is not, true is not 1. Raises DocumentError."""
    if not isinstance(raw, dict):
        raise DocumentError(f"expected a JSON object at the top level, got {type(raw).__name__}")
    raw = migrate(raw)
    try:
        text = json.dumps(raw)
    except (TypeError, ValueError) as error:
        raise DocumentError(f"not JSON data: {error}") from None
    try:
        arch = Architecture.model_validate_json(text, strict=True)
    except ValidationError as error:
        raise DocumentError(validation_problems(error, raw) + type_problems(raw)) from None
    problems = type_problems(arch)
    if problems:
        raise DocumentError(problems)
    return arch


def dumps(arch: Architecture) -> str:
    """The document as pretty JSON text."""
    return json.dumps(arch.to_dict(), indent=2) + "\n"


def save(arch: Architecture, path: str | os.PathLike) -> None:
    """Write atomically (fileio.write_text); a failure is a FileError naming the file."""
    fileio.write_text(path, dumps(arch))
