"""The registry of built-in datasets and the validating loader."""

from __future__ import annotations

import json
from collections.abc import Mapping
from numbers import Integral

from pydantic import ValidationError

from layerloom.engine import fileio
from layerloom.engine.data.base import DEFAULT_MAX_BYTES, Dataset, DatasetError, DatasetSpec
from layerloom.engine.data.csv_file import CSV
from layerloom.engine.data.dates import DATES
from layerloom.engine.data.image_folder import IMAGE_FOLDER
from layerloom.engine.data.images import COLORIZE, DIGITS, IMAGE_PAIRS
from layerloom.engine.data.npz_file import NPZ
from layerloom.engine.data.reverse import REVERSE
from layerloom.engine.data.sentiment import SENTIMENT
from layerloom.engine.data.signals import ADDING, SINE
from layerloom.engine.data.tagging import CONTEXT_TAGGING, TAGGING
from layerloom.engine.data.text import POETRY, TEXT
from layerloom.engine.data.text_csv import TEXT_CSV
from layerloom.engine.data.toy import CIRCLES, MOONS, SPIRALS, XOR

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DIGITS, SPIRALS, MOONS, CIRCLES, XOR, COLORIZE, SINE, SENTIMENT,
        TAGGING, CONTEXT_TAGGING, REVERSE, DATES, ADDING, POETRY, CSV, NPZ, IMAGE_FOLDER, IMAGE_PAIRS, TEXT, TEXT_CSV,
    )
}


def validation_message(error: ValidationError) -> str:
    """Pydantic errors as 'params.field: problem', joined by '; '."""
    problems = []
    for problem in error.errors():
        location = ".".join(str(part) for part in ("params", *problem["loc"]))
        problems.append(f"{location}: {problem['msg']}")
    return "; ".join(problems)


def load_dataset(name: str, params: Mapping | None = None, seed: int = 0, max_bytes: int = DEFAULT_MAX_BYTES) -> Dataset:
    """Validate `params` with the dataset's model and build the dataset deterministically from `seed`; a dataset
    read from the user's files may take up to `max_bytes` of them."""
    spec = DATASETS.get(name)
    if spec is None:
        raise DatasetError(f"unknown dataset '{name}'; choose one of {', '.join(DATASETS)}")
    if params is not None and not isinstance(params, Mapping):
        raise DatasetError(f"dataset '{name}': params must map field names to values, not {type(params).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise DatasetError(f"dataset '{name}': seed must be a non-negative integer, not {seed!r}")
    try:
        text = json.dumps(dict(params or {}))
    except (TypeError, ValueError) as error:
        raise DatasetError(f"dataset '{name}': params must be JSON data ({error})") from None
    try:
        validated = spec.params.model_validate_json(text, strict=True)  # the file format's types: "64" is not 64
    except ValidationError as error:
        raise DatasetError(f"dataset '{name}': {validation_message(error)}") from None
    try:
        dataset = spec.load(validated, int(seed), max_bytes) if spec.reads_files else spec.load(validated, int(seed))
    except DatasetError as error:
        raise DatasetError(f"dataset '{name}': {error}") from error
    except fileio.FileError as error:
        raise DatasetError(f"dataset '{name}': {error} (params.path)") from None
    dataset.name = name
    return dataset
