"""Many-to-one sentiment: synthetic sentences labelled good or bad by their word polarities."""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field

from layerloom.engine.data.base import Dataset, DatasetParams, DatasetSpec

POSITIVE = (
    "good great happy love excellent fun nice wonderful best amazing "
    "brilliant enjoyable charming superb delightful fantastic beautiful clever moving fresh"
).split()
NEGATIVE = (
    "bad awful sad hate terrible boring worst poor ugly horrible "
    "dull weak annoying messy stupid painful bland clumsy tedious lame"
).split()
NEUTRAL = (
    "the a movie film was is and it this plot story actor scene music ending cast script with of very "
    "really quite so but too director camera show book i we they felt seemed looked overall just also its an"
).split()
NEGATION = "not"
MAX_VOCAB = len(POSITIVE) + len(NEGATIVE) + len(NEUTRAL)
CLASS_NAMES = ["bad", "good"]
KIND_SHARES = np.array([0.5, 0.4, 0.1])  # share of neutral, polar and negation words among the tokens


class SentimentParams(DatasetParams):
    length: int = Field(12, ge=2, le=200, description="number of tokens per sentence")
    vocab_size: int = Field(
        32, ge=8, le=MAX_VOCAB, description="number of distinct words (a quarter positive, a quarter negative)"
    )
    n_samples: int = Field(3000, ge=1, le=100_000, description="number of sentences")
    negation: bool = Field(True, description="include the word 'not', which flips the polarity of the next word")


def sentiment_vocab(params: SentimentParams) -> tuple[list[str], np.ndarray]:
    """The word list and each word's polarity (+1, -1, 0; 2 marks the negation word)."""
    polar = params.vocab_size // 4
    negation = [NEGATION] if params.negation else []
    neutral = NEUTRAL[: params.vocab_size - 2 * polar - len(negation)]
    vocab = POSITIVE[:polar] + NEGATIVE[:polar] + neutral + negation
    polarity = np.array([1] * polar + [-1] * polar + [0] * len(neutral) + [2] * len(negation))
    return vocab, polarity


def sentence_scores(tokens: np.ndarray, polarity: np.ndarray) -> np.ndarray:
    """Sum of word polarities, where a word right after the negation word counts reversed."""
    word = polarity[tokens]
    negated = np.zeros_like(word, dtype=bool)
    negated[:, 1:] = word[:, :-1] == 2
    signed = np.where(word == 2, 0, word) * np.where(negated, -1, 1)
    return signed.sum(axis=1)


def load_sentiment(params: SentimentParams, seed: int) -> Dataset:
    """Sentences of random words, label good (1) when the polarity sum is positive; ties are left out."""
    rng = np.random.default_rng(seed)
    vocab, polarity = sentiment_vocab(params)
    kind = np.select([polarity == 0, polarity == 2], [0, 2], 1)
    weights = KIND_SHARES[kind] / np.bincount(kind, minlength=3)[kind]
    weights = weights / weights.sum()
    kept: list[np.ndarray] = []
    count = 0
    while count < params.n_samples:
        tokens = rng.choice(len(vocab), size=(2 * params.n_samples + 8, params.length), p=weights)
        tokens = tokens[sentence_scores(tokens, polarity) != 0]
        kept.append(tokens)
        count += len(tokens)
    tokens = np.concatenate(kept)[: params.n_samples]
    labels = (sentence_scores(tokens, polarity) > 0).astype(np.int64)
    info = {"class_names": list(CLASS_NAMES), "pad": NEUTRAL[0]}  # a sentence is padded with a neutral word
    return Dataset((torch.as_tensor(tokens),), torch.as_tensor(labels), "classification", 2, vocab, info)


SENTIMENT = DatasetSpec(
    "sentiment",
    "Many-to-one: word-id sentences labelled good/bad by the sum of word polarities ('not' flips the next word).",
    SentimentParams,
    load_sentiment,
    "sentence",
)
