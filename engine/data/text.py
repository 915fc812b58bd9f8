"""Character-level text: the bundled public-domain poems, or any UTF-8 text file of yours."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from pydantic import Field

from layerloom.engine import fileio
from layerloom.engine.data.base import DEFAULT_MAX_BYTES, Dataset, DatasetError, DatasetParams, DatasetSpec, data_file

CORPUS_PATH = Path(__file__).with_name("poetry.txt")


class PoetryParams(DatasetParams):
    length: int = Field(64, ge=2, le=1024, description="characters per window")
    n_samples: int = Field(
        2000, ge=1, le=100_000, description="number of windows (at most the number of window starts)"
    )
    stride: int = Field(
        1, ge=1, le=1024, description="spacing of the possible window starts; equal to length: no overlap"
    )


class TextParams(PoetryParams):
    path: str = Field("", max_length=4096, description="path of a UTF-8 text file to learn from",
                      json_schema_extra={"picker": "file"})


@lru_cache(maxsize=1)
def corpus() -> str:
    """The bundled poems (Shakespeare, Blake, Wordsworth, Keats, Poe, ...), plain ASCII."""
    return CORPUS_PATH.read_text(encoding="ascii")


def read_text(path_text: str, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """A UTF-8 text file's contents with line ends as '\\n'; a byte that is not UTF-8 is named by its offset."""
    path = data_file(path_text, "a UTF-8 text file")
    try:
        text = fileio.read_bytes(path, max_bytes, "text file").decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DatasetError(f"file '{path}' is not UTF-8 text (bad byte at offset {error.start})") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def unigram_loss(ids: np.ndarray, vocab_size: int) -> float:
    """Cross-entropy in nats of predicting every character from its overall frequency."""
    probabilities = np.bincount(ids, minlength=vocab_size) / len(ids)
    present = probabilities[probabilities > 0]
    return float(-(present * np.log(present)).sum())


def char_windows(text: str, params: PoetryParams, seed: int, source: str = "the text") -> Dataset:
    """Windows of character ids; the target is the same window shifted one character ahead."""
    if len(text) <= params.length:
        raise DatasetError(f"{source} has {len(text)} characters; windows of params.length {params.length} need more")
    codes, ids = np.unique(np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32), return_inverse=True)
    vocab, ids = [chr(code) for code in codes], ids.astype(np.int64)  # sorted characters; 12 bytes per character
    starts = np.arange(0, len(ids) - params.length, params.stride)
    rng = np.random.default_rng(seed)
    starts = rng.permutation(starts)[: params.n_samples]
    window = starts[:, None] + np.arange(params.length)[None, :]
    inputs, target = torch.as_tensor(ids[window]), torch.as_tensor(ids[window + 1])
    info = {"unigram_loss": unigram_loss(ids, len(vocab)), "corpus_chars": len(text), "per_token": True}
    return Dataset((inputs,), target, "classification", len(vocab), vocab, info)


def load_poetry(params: PoetryParams, seed: int) -> Dataset:
    return char_windows(corpus(), params, seed)


def load_text(params: TextParams, seed: int, max_bytes: int = DEFAULT_MAX_BYTES) -> Dataset:
    dataset = char_windows(read_text(params.path, max_bytes), params, seed, f"file '{params.path}'")
    dataset.info["source"] = params.path
    return dataset


POETRY = DatasetSpec(
    "poetry",
    "Character-level language modelling on public-domain poems: predict each next character.",
    PoetryParams,
    load_poetry,
)
TEXT = DatasetSpec(
    "text",
    "Your own UTF-8 text file for character-level language modelling: predict each next character.",
    TextParams,
    load_text,
    reads_files=True,
)
