"""User data from a NumPy .npz archive holding arrays x and y.

Each array's shape and dtype are read from its .npy header, and checked against the archive and the size limit,
before any of its data is: a header that lies, a zip bomb or an array of Python objects is refused unread.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from pydantic import Field

from layerloom.engine import fileio
from layerloom.engine.errors import shown
from layerloom.engine.data.base import (DEFAULT_MAX_BYTES, Dataset, DatasetError, DatasetParams, DatasetSpec, data_file,
                                        too_large)

ARRAYS = ("x", "y")
HEADER_LIMIT = 10_000  # numpy's own default cap on an .npy header
DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError, NotImplementedError)


class NpzParams(DatasetParams):
    path: str = Field("", max_length=4096, description="path of a .npz file (numpy.savez) with arrays x and y",
                      json_schema_extra={"picker": "file"})


def _header(member: BinaryIO) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from an .npy header."""
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(member, max_header_size=HEADER_LIMIT)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(member, max_header_size=HEADER_LIMIT)
    else:
        raise ValueError(f"version {version} of the .npy format is not read here")
    return shape, dtype


def _check_member(archive: zipfile.ZipFile, name: str, path: Path) -> tuple[zipfile.ZipInfo, int]:
    """The archive member of array `name` and its size in memory, from its header; what is wrong is named."""
    present = [n.removesuffix(".npy") for n in archive.namelist()]
    member = next((info for info in archive.infolist() if info.filename in (f"{name}.npy", name)), None)
    if member is None:
        raise DatasetError(f"file '{shown(path)}' has no array '{name}'; arrays present: "
                           f"{', '.join(shown(n, 40) for n in present[:20]) or 'none'}")
    where = f"array '{name}' in '{shown(path)}'"
    try:
        with archive.open(member) as stream:
            shape, dtype = _header(stream)
            header_bytes = stream.tell()
    except DAMAGED as error:
        raise DatasetError(f"{where} is not a NumPy array ({error})") from None
    if dtype.hasobject:
        raise DatasetError(f"{where} holds Python objects, which need pickle; store numbers")
    if dtype.kind not in "biuf":
        raise DatasetError(f"{where} has dtype {dtype}; numbers or booleans are needed")
    if len(shape) == 0 or math.prod(shape) == 0:
        raise DatasetError(f"{where} has shape {shape}; it needs at least one sample of at least one value")
    size = math.prod(shape) * dtype.itemsize
    if member.file_size != header_bytes + size:
        raise DatasetError(f"{where} is damaged: its header says shape {shape} of {dtype} ({size:,} bytes), but the "
                           f"archive holds {member.file_size - header_bytes:,} bytes of data")
    return member, size


def _read(archive: zipfile.ZipFile, member: zipfile.ZipInfo, name: str, path: Path) -> np.ndarray:
    where = f"array '{name}' in '{shown(path)}'"
    try:
        with archive.open(member) as stream:
            array = np.lib.format.read_array(stream, allow_pickle=False, max_header_size=HEADER_LIMIT)
    except DAMAGED as error:  # a CRC or deflate error: the sizes checked out, the bytes did not
        raise DatasetError(f"{where} is damaged: {error}") from None
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise DatasetError(f"{where} contains NaN or infinite values")
    return array


def read_arrays(handle: BinaryIO, path: Path, max_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """x and y of an open .npz file, their sizes checked before they are read."""
    if handle.read(6) == b"\x93NUMPY":
        raise DatasetError(f"file '{shown(path)}' is a single .npy array; save x and y together with "
                           "numpy.savez")
    handle.seek(0)
    try:
        archive = zipfile.ZipFile(handle)
    except DAMAGED:
        raise DatasetError(f"file '{shown(path)}' is not a NumPy .npz archive (save one with numpy.savez)"
                           ) from None
    with archive:
        members = {name: _check_member(archive, name, path) for name in ARRAYS}
        total = sum(size for _, size in members.values())
        if total > max_bytes:
            raise too_large(path, "the data of x and y", total, max_bytes)
        return tuple(_read(archive, members[name][0], name, path) for name in ARRAYS)


def load_npz(params: NpzParams, seed: int, max_bytes: int = DEFAULT_MAX_BYTES) -> Dataset:
    """x: integer -> int64 (token ids), else float32; y: integer/bool -> class ids, float -> regression. Seed unused."""
    path = data_file(params.path, "a .npz file")
    with fileio.open_read(path) as handle:
        x, y = read_arrays(handle, path, max_bytes)
    if len(x) != len(y):
        raise DatasetError(f"file '{shown(path)}': x has {len(x)} samples but y has {len(y)}")
    if x.dtype.kind in "iu" and x.size and (x.max() > np.iinfo(np.int64).max):
        raise DatasetError(f"array 'x' in '{shown(path)}' holds {x.max()}, beyond int64 token ids")
    inputs = (torch.as_tensor(x.astype(np.int64 if x.dtype.kind in "iu" else np.float32)),)
    info = {"source": str(path), "input_labels": ["array 'x'"], "target_label": "array 'y'"}
    if y.dtype.kind == "f":
        target = torch.as_tensor(y.astype(np.float32))
        return Dataset(inputs, target.unsqueeze(1) if target.ndim == 1 else target, "regression", info=info)
    if y.min() < 0:
        raise DatasetError(f"array 'y' in '{shown(path)}' has negative class ids; integer y must hold ids "
                           "0, 1, 2, ...")
    if y.max() > np.iinfo(np.int64).max:
        raise DatasetError(f"array 'y' in '{shown(path)}' holds class id {y.max()}, beyond int64")
    target = torch.as_tensor(y.astype(np.int64))
    return Dataset(inputs, target, "classification", int(target.max()) + 1, info=info)


NPZ = DatasetSpec(
    "npz",
    "Your own arrays: a .npz file with x (N, ...) and y (N, ...); integer y is classification.",
    NpzParams,
    load_npz,
    reads_files=True,
)
