"""Sequence-to-sequence toy translation: output the source symbols reversed, then an end marker."""

from __future__ import annotations

import string

import numpy as np
import torch
from pydantic import Field

from layerloom.engine.data.base import Dataset, DatasetParams, DatasetSpec

START, END = "<start>", "<end>"
SPECIAL_TOKENS = [START, END]


class ReverseParams(DatasetParams):
    length: int = Field(8, ge=1, le=100, description="number of source tokens; the output has length + 1 (end marker)")
    vocab_size: int = Field(10, ge=2, le=26, description="number of distinct source symbols (letters a, b, c, ...)")
    n_samples: int = Field(3000, ge=1, le=100_000, description="number of sequence pairs")


def load_reverse(params: ReverseParams, seed: int) -> Dataset:
    """inputs = (source, decoder input = <start> + reversed source); target = reversed source + <end>."""
    rng = np.random.default_rng(seed)
    vocab = SPECIAL_TOKENS + list(string.ascii_lowercase[: params.vocab_size])
    start, end = vocab.index(START), vocab.index(END)
    source = rng.integers(len(SPECIAL_TOKENS), len(vocab), (params.n_samples, params.length))
    reversed_source = source[:, ::-1]
    column = np.ones((params.n_samples, 1), dtype=np.int64)
    target = np.concatenate([reversed_source, end * column], axis=1)
    decoder_input = np.concatenate([start * column, reversed_source], axis=1)
    inputs = (torch.as_tensor(source), torch.as_tensor(decoder_input))
    info = {"start_token": start, "end_token": end, "per_token": True, "teacher_forcing": True}
    return Dataset(inputs, torch.as_tensor(target), "classification", len(vocab), vocab, info)


REVERSE = DatasetSpec(
    "reverse",
    "Seq2seq toy translation: reverse the source symbols, then <end>; inputs are (source, <start> + shifted target).",
    ReverseParams,
    load_reverse,
)
