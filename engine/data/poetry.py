"""Character-level text generation on a bundled public-domain poetry corpus."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from pydantic import Field

from layerloom.engine.data.base import Dataset, DatasetParams, DatasetSpec

CORPUS_PATH = Path(__file__).with_name("poetry.txt")


class PoetryParams(DatasetParams):
    length: int = Field(64, ge=2, le=1024, description="characters per window")
    n_samples: int = Field(
        2000, ge=1, le=100_000, description="number of windows (at most the number of window starts)"
    )
    stride: int = Field(
        1, ge=1, le=1024, description="spacing of the possible window starts; equal to length: no overlap"
    )


@lru_cache(maxsize=1)
def corpus() -> str:
    """The bundled poems (Shakespeare, Blake, Wordsworth, Keats, Poe, ...), plain ASCII."""
    return CORPUS_PATH.read_text(encoding="ascii")


def unigram_loss(ids: np.ndarray, vocab_size: int) -> float:
    """Cross-entropy in nats of predicting every character from its overall frequency."""
    probabilities = np.bincount(ids, minlength=vocab_size) / len(ids)
    present = probabilities[probabilities > 0]
    return float(-(present * np.log(present)).sum())


def load_poetry(params: PoetryParams, seed: int) -> Dataset:
    """Windows of character ids; the target is the same window shifted one character ahead."""
    text = corpus()
    vocab = sorted(set(text))
    char_id = {char: index for index, char in enumerate(vocab)}
    ids = np.array([char_id[char] for char in text], dtype=np.int64)
    starts = np.arange(0, len(ids) - params.length, params.stride)
    rng = np.random.default_rng(seed)
    starts = rng.permutation(starts)[: params.n_samples]
    window = starts[:, None] + np.arange(params.length)[None, :]
    inputs, target = torch.as_tensor(ids[window]), torch.as_tensor(ids[window + 1])
    info = {"unigram_loss": unigram_loss(ids, len(vocab)), "corpus_chars": len(text), "per_token": True}
    return Dataset((inputs,), target, "classification", len(vocab), vocab, info)


POETRY = DatasetSpec(
    "poetry",
    "Character-level language modelling on public-domain poems: predict each next character.",
    PoetryParams,
    load_poetry,
)
