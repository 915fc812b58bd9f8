"""User data from a CSV file: numeric feature columns and one target column."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Literal

import torch
from pydantic import Field

from layerloom.engine.data.base import Dataset, DatasetError, DatasetParams, DatasetSpec, existing_file


class CsvParams(DatasetParams):
    path: str = Field("", max_length=4096, description="path of a UTF-8 CSV file whose first row names the columns",
                      json_schema_extra={"picker": "file"})
    target: str = Field("", max_length=200, description="name of the target column; empty means the last column")
    task: Literal["classification", "regression"] = Field(
        "classification", description="classification maps target labels to class ids; regression needs numbers"
    )
    delimiter: str = Field(",", min_length=1, max_length=1, description="character separating the fields")


def read_rows(path: Path, delimiter: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and (line number, fields) of each non-blank data row."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DatasetError(f"file '{path}' is not UTF-8 text (bad byte at offset {error.start})") from error
    except OSError as error:
        raise DatasetError(f"file '{path}' cannot be read: {error.strerror}") from error
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = []
    try:
        for fields in reader:
            if any(field.strip() for field in fields):
                rows.append((reader.line_num, [field.strip() for field in fields]))
    except csv.Error as error:
        raise DatasetError(f"line {reader.line_num} of '{path}' is not valid CSV: {error}") from error
    if not rows:
        raise DatasetError(f"file '{path}' is empty")
    (_, header), *data = rows
    if not data:
        raise DatasetError(f"file '{path}' has a header row but no data rows")
    return header, data


def parse_number(text: str, line: int, column: str, path: Path) -> float:
    """A finite float, else a DatasetError giving the line and column."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise DatasetError(f"line {line} of '{path}', column '{column}': '{text}' is not a finite number")
    return value


def class_ids(labels: list[str]) -> tuple[list[int], list[str]]:
    """Class id of each label and the class names, sorted numerically when all labels are integers."""
    try:
        names = sorted(set(labels), key=int)
    except ValueError:
        names = sorted(set(labels))
    index = {name: i for i, name in enumerate(names)}
    return [index[label] for label in labels], names


def load_csv(params: CsvParams, seed: int) -> Dataset:
    """Features (N, F) float32 in file order; target (N,) class ids or (N, 1) float32. The seed is unused."""
    path = existing_file(params.path, "a CSV file")
    header, data = read_rows(path, params.delimiter)
    if len(set(header)) != len(header):
        raise DatasetError(f"file '{path}' repeats a column name in its header: {', '.join(header)}")
    target_name = params.target.strip() or header[-1]
    if target_name not in header:
        raise DatasetError(f"file '{path}' has no column '{target_name}' (params.target); columns: {', '.join(header)}")
    if len(header) < 2:
        raise DatasetError(f"file '{path}' has only the target column '{target_name}'; add feature columns")
    target_index = header.index(target_name)
    feature_names = [name for name in header if name != target_name]
    features, labels = [], []
    for line, fields in data:
        if len(fields) != len(header):
            raise DatasetError(f"line {line} of '{path}' has {len(fields)} fields but the header has {len(header)}")
        if not fields[target_index]:
            raise DatasetError(f"line {line} of '{path}', column '{target_name}': the target value is missing")
        labels.append(fields[target_index])
        row = fields[:target_index] + fields[target_index + 1 :]
        features.append([parse_number(text, line, name, path) for text, name in zip(row, feature_names)])
    inputs = (torch.tensor(features, dtype=torch.float32),)
    info: dict = {"feature_names": feature_names, "source": str(path)}
    if params.task == "regression":
        values = [parse_number(text, line, target_name, path) for text, (line, _) in zip(labels, data)]
        return Dataset(inputs, torch.tensor(values, dtype=torch.float32).unsqueeze(1), "regression", info=info)
    ids, names = class_ids(labels)
    info["class_names"] = names
    return Dataset(inputs, torch.tensor(ids, dtype=torch.int64), "classification", len(names), info=info)


CSV = DatasetSpec(
    "csv",
    "Your own table: a UTF-8 CSV file with a header, numeric feature columns and a target column.",
    CsvParams,
    load_csv,
    "table",
)
