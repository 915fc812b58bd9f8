"""Every file LayerLoom reads or writes goes through here: regular files only, atomic writes, errors that name the file.

A pipe, a device or a socket is refused before it is opened for real (opening a FIFO blocks until a writer
comes), and a folder is named as one. Writes go to a temporary file beside the target, flushed to disk and
renamed over it, so the target holds the old contents or the new, never a part; on any failure the temporary
file is removed. Torch's own writers are given an in-memory buffer, never a file: on a full disk they abort
the process (torch.jit.save) or report an offset (torch.save), while Python's writes raise ENOSPC, which
comes out as "cannot write FILE: no space left on device".
"""
from __future__ import annotations

import io
import os
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

from .errors import UserError, shown

KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
         (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class FileError(UserError):
    """A file that cannot be read or written; the message names the file and the reason."""

    names_its_source = True

    def __init__(self, verb: str, path: str | os.PathLike, why: str):
        self.path, self.why = Path(path), why
        super().__init__(f"cannot {verb} {shown(path)}: {why}")


def reason(error: OSError) -> str:
    """An OSError's reason in words: 'no space left on device'."""
    text = error.strerror or str(error) or type(error).__name__
    return text[:1].lower() + text[1:]


def kind(mode: int) -> str | None:
    """What a file that is not a regular file is ('a named pipe (FIFO)'), or None for a regular file."""
    return next((name for test, name in KINDS if test(mode)), None if stat.S_ISREG(mode) else "not a regular file")


def _refuse(verb: str, path, mode: int) -> None:
    found = kind(mode)
    if found:
        raise FileError(verb, path, f"it is {found}, not a regular file")


@contextmanager
def open_read(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """An open regular file; anything else is refused without blocking (FileError)."""
    try:  # O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise FileError("read", path, "no such file" if error.errno == 2 else reason(error)) from None
    try:
        _refuse("read", path, os.fstat(fd).st_mode)
        os.set_blocking(fd, True)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        try:
            yield handle
        except OSError as error:
            raise FileError("read", path, reason(error)) from None


def read_bytes(path: str | os.PathLike, limit: int | None = None, what: str = "file") -> bytes:
    """The whole file; one over `limit` bytes is refused before it is read (FileError)."""
    with open_read(path) as handle:
        size = os.fstat(handle.fileno()).st_size
        if limit is not None and size > limit:
            raise FileError("read", path, f"the {what} is {size:,} bytes, over the {limit:,} byte limit")
        data = handle.read(limit + 1 if limit is not None else -1)
    if limit is not None and len(data) > limit:  # it grew while being read
        raise FileError("read", path, f"the {what} is over the {limit:,} byte limit")
    return data


def check_writable(path: str | os.PathLike) -> Path:
    """`path` as a Path, once it is known not to name a folder, pipe or device and its folder exists (FileError)."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if not os.path.isdir(path.parent):
            raise FileError("write", path, "no such file or directory") from None
        return path
    except OSError as error:
        raise FileError("write", path, reason(error)) from None
    _refuse("write", path, mode)
    return path


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside `path` for a writer that wants a name: when the block succeeds it is flushed to disk
    and renamed over `path`, with the mode a plain write would give; when the block fails it is removed. OSErrors
    come out as FileError naming `path`."""
    path = check_writable(path)
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as error:
        raise FileError("write", path, reason(error)) from None
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, _file_mode(path))
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise FileError("write", path, reason(error)) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: str | os.PathLike, data: bytes | memoryview) -> None:
    """Write `data` to `path` atomically (FileError)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        handle.write(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 `text` to `path` atomically (FileError)."""
    write_bytes(path, text.encode("utf-8"))


def save_torch(obj, path: str | os.PathLike) -> None:
    """torch.save, atomically, through a buffer: `path` holds the old contents or the new, never a part."""
    import torch
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_bytes(path, buffer.getbuffer())


def load_torch(path: str | os.PathLike, what: str = "weights file"):
    """A file written by torch.save, read with weights_only=True: tensors and plain containers, never code."""
    import torch
    data = read_bytes(path)
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception:  # torch.load fails with many types on a file it cannot read safely
        why = "it is empty" if not data else f"it is not a {what} that loads safely (with weights_only=True)"
        raise FileError("read", path, why) from None


def make_folder(path: str | os.PathLike) -> Path:
    """Create the folder `path` and its parents as needed (FileError names what is in the way)."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise FileError("create folder", path, "a file of that name is in the way") from None
    except NotADirectoryError:
        raise FileError("create folder", path, "a part of the path is a file, not a folder") from None
    except OSError as error:
        raise FileError("create folder", path, reason(error)) from None
    return path


def open_append(path: str | os.PathLike) -> BinaryIO:
    """A regular file opened to append to (created if missing); anything else is refused without blocking."""
    path = check_writable(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC, 0o666)
    except OSError as error:
        raise FileError("write", path, reason(error)) from None
    try:
        _refuse("write", path, os.fstat(fd).st_mode)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "ab", buffering=0)
    except BaseException:
        os.close(fd)
        raise


def _file_mode(path: Path) -> int:
    """The mode a plain write would give: the existing file's, else 0o666 less the umask (mkstemp uses 0o600)."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
