"""Many-to-many NER-like tagging: entity types cued by the words to the left or to the right."""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field

from layerloom.engine.data.base import Dataset, DatasetParams, DatasetSpec

TAGS = ["O", "PER", "LOC", "ORG"]
ENTITIES = (
    "jordan paris washington georgia lincoln ford austin florence "
    "victoria chelsea phoenix dallas carolina sydney orlando virginia"
).split()
FILLERS = (
    "the a and said went today yesterday with he she they then after met saw called was is later there his her new old"
).split()
PREFIX_CUES = {"PER": "mr mrs dr prof sir", "LOC": "in from near visited", "ORG": "joined founded sued quit"}
SUFFIX_CUES = {"PER": "jr sr", "LOC": "river city street county", "ORG": "inc corp ltd group"}
CHUNK_SHARES = {"filler": 0.35, "bare_entity": 0.1, "cued_entity": 0.55}


class TaggingParams(DatasetParams):
    length: int = Field(12, ge=2, le=200, description="number of tokens per sentence")
    n_samples: int = Field(3000, ge=1, le=100_000, description="number of sentences")


def cue_vocab(cues: dict[str, str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Vocabulary (fillers, entities, cues grouped by tag), each word's cue tag id (0 if not a cue) and entity flag."""
    cue_words = [(word, TAGS.index(tag)) for tag, words in cues.items() for word in words.split()]
    vocab = FILLERS + ENTITIES + [word for word, _ in cue_words]
    cue_tag = np.array([0] * (len(FILLERS) + len(ENTITIES)) + [tag for _, tag in cue_words])
    is_entity = np.array([False] * len(FILLERS) + [True] * len(ENTITIES) + [False] * len(cue_words))
    return vocab, cue_tag, is_entity


def sample_sentences(
    rng: np.random.Generator, params: TaggingParams, cue_tag: np.ndarray, cue_first: bool
) -> np.ndarray:
    """Token ids built from chunks: a filler, a bare entity, or a cue with one or two entity words."""
    shape = (params.n_samples, params.length)  # one chunk per token is always enough
    kind = rng.choice(len(CHUNK_SHARES), size=shape, p=list(CHUNK_SHARES.values()))
    cued = kind == list(CHUNK_SHARES).index("cued_entity")
    first_name, second_name = len(FILLERS) + rng.integers(0, len(ENTITIES), (2, *shape))
    filler = rng.integers(0, len(FILLERS), shape)
    tag = rng.integers(1, len(TAGS), shape)  # entity types equally likely, whatever their number of cue words
    cue_count = np.bincount(cue_tag, minlength=len(TAGS))
    first_cue = np.array([np.argmax(cue_tag == t) for t in range(len(TAGS))])
    cue = first_cue[tag] + (rng.random(shape) * cue_count[tag]).astype(np.int64)
    single = np.where(kind == list(CHUNK_SHARES).index("filler"), filler, first_name)
    two_names = cued & (rng.random(shape) < 0.5)
    always = np.ones(shape, dtype=bool)
    if cue_first:
        slots = np.stack([np.where(cued, cue, single), first_name, second_name], axis=-1)
        valid = np.stack([always, cued, two_names], axis=-1)
    else:
        slots = np.stack([np.where(cued, first_name, single), second_name, cue], axis=-1)
        valid = np.stack([always, two_names, cued], axis=-1)
    slots, valid = slots.reshape(params.n_samples, -1), valid.reshape(params.n_samples, -1)
    order = np.argsort(~valid, axis=1, kind="stable")[:, : params.length]
    return np.take_along_axis(slots, order, axis=1)


def shifted(values: np.ndarray, steps: int, fill) -> np.ndarray:
    """values moved `steps` positions along time (positive: right, so position t sees t - steps)."""
    out = np.full_like(values, fill)
    if steps > 0:
        out[:, steps:] = values[:, :-steps]
    else:
        out[:, :steps] = values[:, -steps:]
    return out


def entity_tags(tokens: np.ndarray, cue_tag: np.ndarray, is_entity: np.ndarray, direction: int) -> np.ndarray:
    """Tag entity words by a cue 1 step away, or 2 steps away across another entity word; else O."""
    cue, entity = cue_tag[tokens], is_entity[tokens]
    near_cue = shifted(cue, direction, 0)
    far_cue = np.where(shifted(entity, direction, False), shifted(cue, 2 * direction, 0), 0)
    return np.where(entity, np.where(near_cue > 0, near_cue, far_cue), 0).astype(np.int64)


def tagging_dataset(params: TaggingParams, seed: int, cues: dict[str, str], cue_first: bool) -> Dataset:
    """Sentences and per-token tags for the given cue words placed before or after the entities."""
    vocab, cue_tag, is_entity = cue_vocab(cues)
    tokens = sample_sentences(np.random.default_rng(seed), params, cue_tag, cue_first)
    tags = entity_tags(tokens, cue_tag, is_entity, 1 if cue_first else -1)
    info = {"class_names": list(TAGS), "per_token": True}
    return Dataset((torch.as_tensor(tokens),), torch.as_tensor(tags), "classification", len(TAGS), vocab, info)


def load_tagging(params: TaggingParams, seed: int) -> Dataset:
    """Entity type set by the cue word before it ('dr jordan' -> PER, 'in jordan' -> LOC)."""
    return tagging_dataset(params, seed, PREFIX_CUES, cue_first=True)


def load_context_tagging(params: TaggingParams, seed: int) -> Dataset:
    """Entity type set by the cue word after it ('jordan river' -> LOC, 'jordan inc' -> ORG)."""
    return tagging_dataset(params, seed, SUFFIX_CUES, cue_first=False)


TAGGING = DatasetSpec(
    "tagging",
    "Many-to-many NER-like tagging: a word's tag (O/PER/LOC/ORG) depends on the words before it.",
    TaggingParams,
    load_tagging,
)
CONTEXT_TAGGING = DatasetSpec(
    "context_tagging",
    "Many-to-many tagging where a word's tag depends on the next 1-2 words: needs a bidirectional model.",
    TaggingParams,
    load_context_tagging,
)
