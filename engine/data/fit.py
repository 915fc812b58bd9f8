"""Checking that a dataset's inputs fit a model's input nodes."""

from __future__ import annotations

import torch

from layerloom.engine.data.base import Dataset, DatasetError

WILDCARDS = (None, -1)


def plural(count: int, noun: str) -> str:
    """'1 input', '2 inputs'."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def shape_matches(actual: tuple[int, ...], expected: tuple) -> bool:
    """Same rank and equal sizes, where None or -1 in `expected` accepts any size."""
    return len(actual) == len(expected) and all(e in WILDCARDS or a == e for a, e in zip(actual, expected))


def dtype_name(dtype: torch.dtype) -> str:
    """'float32' for torch.float32."""
    return str(dtype).removeprefix("torch.")


def check_fits(
    dataset: Dataset, node_ids: list[str], input_shapes: list[tuple], input_dtypes: list[torch.dtype]
) -> None:
    """Raise DatasetError unless the dataset's inputs match the input nodes (in order) in count, shape and dtype."""
    if not len(node_ids) == len(input_shapes) == len(input_dtypes):
        raise ValueError("node_ids, input_shapes and input_dtypes must have the same length")
    given = len(dataset.inputs)
    if given != len(node_ids):
        nodes = ", ".join(f"'{node_id}'" for node_id in node_ids) or "none"
        raise DatasetError(
            f"dataset '{dataset.name}' gives {plural(given, 'input')} but the model has "
            f"{plural(len(node_ids), 'input node')} ({nodes})"
        )
    nodes = zip(node_ids, input_shapes, input_dtypes, dataset.inputs)
    for position, (node_id, shape, dtype, tensor) in enumerate(nodes, start=1):
        node = f"input node '{node_id}'" + (f" (input {position} of {given})" if given > 1 else "")
        actual = tuple(tensor.shape[1:])
        if not shape_matches(actual, tuple(shape)):
            raise DatasetError(
                f"dataset '{dataset.name}' gives inputs of shape {actual} but {node} expects {tuple(shape)}"
            )
        if tensor.dtype != dtype:
            raise DatasetError(
                f"dataset '{dataset.name}' gives {dtype_name(tensor.dtype)} inputs "
                f"but {node} expects {dtype_name(dtype)}"
            )
