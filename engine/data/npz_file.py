"""User data from a NumPy .npz archive holding arrays x and y."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch
from pydantic import Field

from layerloom.engine.data.base import Dataset, DatasetError, DatasetParams, DatasetSpec, existing_file


class NpzParams(DatasetParams):
    path: str = Field("", max_length=4096, description="path of a .npz file (numpy.savez) with arrays x and y",
                      json_schema_extra={"picker": "file"})


def read_array(archive: np.lib.npyio.NpzFile, name: str, path: Path) -> np.ndarray:
    """Array `name` of the archive, numeric and with a sample dimension."""
    if name not in archive.files:
        present = ", ".join(archive.files) or "none"
        raise DatasetError(f"file '{path}' has no array '{name}'; arrays present: {present}")
    try:
        array = archive[name]
    except ValueError as error:
        message = f"array '{name}' in '{path}' holds Python objects, which need pickle; store numbers"
        raise DatasetError(message) from error
    if array.ndim == 0 or len(array) == 0:
        raise DatasetError(f"array '{name}' in '{path}' has shape {array.shape}; it needs at least one sample")
    if array.dtype.kind not in "biuf":
        raise DatasetError(f"array '{name}' in '{path}' has dtype {array.dtype}; numbers or booleans are needed")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise DatasetError(f"array '{name}' in '{path}' contains NaN or infinite values")
    return array


def load_npz(params: NpzParams, seed: int) -> Dataset:
    """x: integer -> int64 (token ids), else float32; y: integer/bool -> class ids, float -> regression. Seed unused."""
    path = existing_file(params.path, "a .npz file")
    try:
        handle = path.open("rb")  # opened here: numpy leaves a path it opened unclosed when the archive is bad
    except OSError as error:
        raise DatasetError(f"file '{path}' cannot be read: {error.strerror}") from error
    with handle:
        try:
            archive = np.load(handle, allow_pickle=False)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
            raise DatasetError(f"file '{path}' is not a NumPy .npz archive (save one with numpy.savez)") from error
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise DatasetError(f"file '{path}' is a single .npy array; save x and y together with numpy.savez")
        x, y = read_array(archive, "x", path), read_array(archive, "y", path)
    if len(x) != len(y):
        raise DatasetError(f"file '{path}': x has {len(x)} samples but y has {len(y)}")
    inputs = (torch.as_tensor(x.astype(np.int64 if x.dtype.kind in "iu" else np.float32)),)
    info = {"source": str(path)}
    if y.dtype.kind == "f":
        target = torch.as_tensor(y.astype(np.float32))
        return Dataset(inputs, target.unsqueeze(1) if target.ndim == 1 else target, "regression", info=info)
    if y.min() < 0:
        raise DatasetError(f"array 'y' in '{path}' has negative class ids; integer y must hold ids 0, 1, 2, ...")
    target = torch.as_tensor(y.astype(np.int64))
    return Dataset(inputs, target, "classification", int(target.max()) + 1, info=info)


NPZ = DatasetSpec(
    "npz",
    "Your own arrays: a .npz file with x (N, ...) and y (N, ...); integer y is classification.",
    NpzParams,
    load_npz,
)
