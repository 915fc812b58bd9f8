"""User data from a CSV file: numeric feature columns and one target column."""

from __future__ import annotations

import csv
import io
from contextlib import contextmanager
import math
import os
from array import array
from pathlib import Path
from typing import Iterator, Literal

import torch
from pydantic import Field

from layerloom.engine import fileio
from layerloom.engine.errors import shown
from layerloom.engine.data.base import (DEFAULT_MAX_BYTES, Dataset, DatasetError, DatasetParams, DatasetSpec, data_file,
                                        too_large)


class CsvParams(DatasetParams):
    path: str = Field("", max_length=4096, description="path of a UTF-8 CSV file whose first row names the columns",
                      json_schema_extra={"picker": "file"})
    target: str = Field("", max_length=200, description="name of the target column; empty means the last column")
    task: Literal["classification", "regression"] = Field(
        "classification", description="classification maps target labels to class ids; regression needs numbers"
    )
    delimiter: str = Field(",", min_length=1, max_length=1, description="character separating the fields")


def parse_number(text: str, line: int, column: str, path: Path) -> float:
    """A finite float, else a DatasetError giving the line and column."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise DatasetError(f"line {line} of '{path}', column '{column}': '{shown(text, 40)}' is not a finite number")
    return value


def class_ids(labels: list[str]) -> tuple[list[int], list[str]]:
    """Class id of each label and the class names, sorted numerically when all labels are integers."""
    try:
        names = sorted(set(labels), key=int)
    except ValueError:
        names = sorted(set(labels))
    index = {name: i for i, name in enumerate(names)}
    return [index[label] for label in labels], names


def _rows(text: io.TextIOBase, path: Path, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, stripped fields) of each non-blank row, streamed from an open text file."""
    reader = csv.reader(text, delimiter=delimiter)
    try:
        for fields in reader:
            if any(field.strip() for field in fields):
                yield reader.line_num, [field.strip() for field in fields]
    except UnicodeDecodeError:
        raise DatasetError(f"file '{shown(path)}' is not UTF-8 text (bad byte near line {reader.line_num + 1})"
                           ) from None
    except csv.Error as error:
        raise DatasetError(f"line {reader.line_num} of '{shown(path)}' is not valid CSV: {error}") from None


@contextmanager
def csv_rows(path: Path, delimiter: str, max_bytes: int = DEFAULT_MAX_BYTES):
    """(header, iterator of (line number, fields)) of a CSV file, streamed through fileio once its size is checked
    against `max_bytes`; an empty file is an error."""
    with fileio.open_read(path) as handle, io.TextIOWrapper(handle, encoding="utf-8-sig", newline="") as text:
        size = os.fstat(handle.fileno()).st_size
        if size > max_bytes:
            raise too_large(path, "the file", size, max_bytes)
        lines = _rows(text, path, delimiter)
        header = next((fields for _, fields in lines), None)
        if header is None:
            raise DatasetError(f"file '{shown(path)}' is empty")
        yield header, lines


def read_rows(path: Path, delimiter: str, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[list[str], list]:
    """Header and (line number, fields) of each non-blank data row, for readers that keep every row (text)."""
    with csv_rows(path, delimiter, max_bytes) as (header, lines):
        data = list(lines)
    if not data:
        raise DatasetError(f"file '{shown(path)}' has a header row but no data rows")
    return header, data


def _columns(header: list[str], params: CsvParams, path: Path) -> tuple[int, str, list[str]]:
    """Index and name of the target column, and the feature columns' names."""
    if len(set(header)) != len(header):
        raise DatasetError(f"file '{path}' repeats a column name in its header: {shown(', '.join(header))}")
    target_name = params.target.strip() or header[-1]
    if target_name not in header:
        raise DatasetError(f"file '{path}' has no column '{target_name}' (params.target); columns: "
                           f"{shown(', '.join(header))}")
    if len(header) < 2:
        raise DatasetError(f"file '{path}' has only the target column '{target_name}'; add feature columns")
    return header.index(target_name), target_name, [name for name in header if name != target_name]


def load_csv(params: CsvParams, seed: int, max_bytes: int = DEFAULT_MAX_BYTES) -> Dataset:
    """Features (N, F) float32 in file order; target (N,) class ids or (N, 1) float32. The seed is unused.

    Streamed row by row into flat arrays of 4-byte numbers: memory stays a small multiple of the file's size,
    which is checked against `max_bytes` before anything is read."""
    path = data_file(params.path, "a CSV file")
    features, values, labels = array("f"), array("f"), array("q")
    names: dict[str, int] = {}  # class label -> id in order of first appearance
    rows = 0
    with csv_rows(path, params.delimiter, max_bytes) as (header, lines):
        target_index, target_name, feature_names = _columns(header, params, path)
        for line, fields in lines:
            if len(fields) != len(header):
                raise DatasetError(f"line {line} of '{path}' has {len(fields)} fields but the header has {len(header)}")
            label = fields.pop(target_index)
            if not label:
                raise DatasetError(f"line {line} of '{path}', column '{target_name}': the target value is missing")
            features.extend(parse_number(text, line, name, path) for text, name in zip(fields, feature_names))
            if params.task == "regression":
                values.append(parse_number(label, line, target_name, path))
            else:
                labels.append(names.setdefault(label, len(names)))
            rows += 1
    if not rows:
        raise DatasetError(f"file '{path}' has a header row but no data rows")
    inputs = (torch.frombuffer(features, dtype=torch.float32).reshape(rows, len(feature_names)),)  # shared memory
    info: dict = {"feature_names": feature_names, "source": str(path), "input_labels": ["the feature columns"],
                  "target_label": f"column '{target_name}'"}
    if params.task == "regression":
        return Dataset(inputs, torch.frombuffer(values, dtype=torch.float32).unsqueeze(1), "regression",
                       info=info)
    ids, sorted_names = class_ids(list(names))
    remap = torch.tensor(ids, dtype=torch.int64)
    info["class_names"] = sorted_names
    target = remap[torch.frombuffer(labels, dtype=torch.int64)]
    return Dataset(inputs, target, "classification", len(sorted_names), info=info)


CSV = DatasetSpec(
    "csv",
    "Your own table: a UTF-8 CSV file with a header, numeric feature columns and a target column.",
    CsvParams,
    load_csv,
    "table",
    reads_files=True,
)
