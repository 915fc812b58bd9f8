"""Reading and writing documents: JSON text only, validated, migrated, saved atomically."""
from __future__ import annotations

import json
import os
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from pydantic import ValidationError

from .blocks import type_problems
from .document import Architecture
from .errors import DocumentError, validation_problems
from .migrations import migrate

MAX_FILE_BYTES = 64 * 1024 * 1024


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
        arch = Architecture.model_validate(raw)
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
    """Write atomically: a temporary file in the same folder, flushed, then renamed over `path`."""
    text = dumps(arch)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside `path` to write to: when the block succeeds it is flushed to disk and renamed over
    `path`, with the mode a plain write would give; when the block fails it is removed."""
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, _file_mode(path))
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _file_mode(path: Path) -> int:
    """The mode a plain write would give: the existing file's, else 0o666 less the umask (mkstemp uses 0o600)."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
